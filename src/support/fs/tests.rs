//! Unit tests of `crate::support::fs`.

use super::*;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

#[test]
fn reads_a_regular_file_up_to_the_limit() {
    let dir = temp();
    let path = dir.path().join("a.yaml");
    std::fs::write(&path, b"12345").unwrap();
    assert_eq!(read_input(&path, 5, None).unwrap(), b"12345");
    assert!(matches!(read_input(&path, 4, None), Err(InputError::TooLarge { size: 5, limit: 4 })));
}

#[test]
fn refuses_special_files_without_blocking() {
    let dir = temp();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    assert!(matches!(read_input(&fifo, 10, None), Err(InputError::NotAFile(FileKind::Fifo))));
    assert!(matches!(read_input(Path::new("/dev/zero"), 10, None), Err(InputError::NotAFile(FileKind::CharDevice))));
    assert!(matches!(read_input(dir.path(), 10, None), Err(InputError::NotAFile(FileKind::Folder))));
    let missing = dir.path().join("missing");
    assert!(matches!(read_input(&missing, 10, None), Err(InputError::NotFound)));
    std::os::unix::fs::symlink(&missing, dir.path().join("dangling")).unwrap();
    assert!(matches!(read_input(&dir.path().join("dangling"), 10, None), Err(InputError::Dangling)));
}

#[test]
fn a_repository_file_stays_in_the_repository() {
    let dir = temp();
    let root = dir.path().canonicalize().unwrap().join("repo");
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join("templates/a.xml"), b"<a/>").unwrap();
    std::fs::write(root.join(".git/config"), b"[http] extraheader = secret").unwrap();
    std::fs::write(dir.path().join("outside"), b"token").unwrap();
    let link = |name: &str, target: &str| {
        let p = root.join("templates").join(name);
        std::os::unix::fs::symlink(target, &p).unwrap();
        p
    };
    assert_eq!(read_input(&link("same.xml", "a.xml"), 10, Some(&root)).unwrap(), b"<a/>");
    assert!(matches!(
        read_input(&link("out.xml", "../../outside"), 10, Some(&root)),
        Err(InputError::Outside { link: true, folder: false })
    ));
    assert!(matches!(
        read_input(&link("environ.xml", "/proc/self/environ"), 10, Some(&root)),
        Err(InputError::Outside { link: true, folder: false })
    ));
    assert!(matches!(read_input(&link("git.xml", "../.git/config"), 100, Some(&root)), Err(InputError::InGitFolder)));
    std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
    assert!(matches!(
        read_input(&root.join("up/outside"), 10, Some(&root)),
        Err(InputError::Outside { link: false, folder: false })
    ));
}

#[test]
fn sizes_read_as_words() {
    assert_eq!(size_text(8 * 1024 * 1024), "8 MB");
    assert_eq!(size_text(64 * 1024), "64 KB");
    assert_eq!(size_text(100), "100 bytes");
}
