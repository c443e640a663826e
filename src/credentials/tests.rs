//! Unit tests of `crate::credentials`.

use super::*;

#[test]
fn rsa_pem_checks() {
    assert!(check_rsa_pem("garbage").is_err());
    assert!(
        check_rsa_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n-----END ENCRYPTED PRIVATE KEY-----")
            .unwrap_err()
            .contains("passphrase")
    );
    assert!(
        check_rsa_pem("-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----")
            .unwrap_err()
            .contains("not an RSA")
    );
}
