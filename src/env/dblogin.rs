//! The database login of an instance's default data source (DESIGN §9): `dbcnx.password: !age`
//! under `serverconf.shared.dataStore.dataSource.default` becomes the credential step
//! `nlserver config -setdblogin:...`; the password itself is never rendered into a file.

use std::collections::HashMap;

use super::value::{Origin, Value};
use crate::diag::{Diagnostic, Diagnostics};
use crate::secrets::SecretId;
use crate::support::yaml::Tag;

/// The providers `nlserver config -setdblogin` takes (Adobe: oracle, postgresql, mssql, odbc).
const PROVIDERS: &[&str] = &["postgresql", "mssql", "oracle", "odbc"];

#[derive(Debug, Clone)]
pub struct DbLogin {
    /// As the YAML spells it (`PostgreSQL`, `mssql`, ...), which is what nlserver is given.
    pub provider: String,
    /// `account:database` (`account` alone for Oracle).
    pub login: String,
    pub server: String,
    pub password: SecretId,
    /// Where the password is set.
    pub origin: Origin,
}

impl DbLogin {
    /// Oracle's login is a user alone; the others take `account:database`.
    pub fn is_oracle(&self) -> bool {
        self.provider.eq_ignore_ascii_case("oracle")
    }

    pub fn is_mssql(&self) -> bool {
        self.provider.eq_ignore_ascii_case("mssql")
    }
}

/// The dotted path of the default data source's `dbcnx`, for messages.
pub const DBCNX_PATH: &str = "serverconf.shared.dataStore.dataSource.default.dbcnx";

/// The default data source's login, when its password is an `!age` secret; `!age` passwords on any
/// other data source are refused.
pub fn load(
    diags: &mut Diagnostics,
    base: &Value,
    instance: &str,
    secrets: &HashMap<Origin, SecretId>,
) -> Option<DbLogin> {
    let sources = base.get("serverconf")?.get("shared")?.get("dataStore")?.get("dataSource")?;
    for f in sources.fields().filter(|f| f.key != "default") {
        if let Some(p) = f.value.get("dbcnx").and_then(|d| d.get("password")).filter(|p| p.tag == Tag::Age) {
            diags.push(
                Diagnostic::at(
                    p.origin.location(),
                    format!(
                        "instances.{instance}: `password: !age` on data source `{}`: nlserver config -setdblogin sets the default data source's login only, so nlconf cannot set this one",
                        f.key
                    ),
                )
                .with_help("leave the password out of the YAML (nlconf keeps the encrypted one nlserver wrote), or set it in the console"),
            );
        }
    }
    let dbcnx = sources.get("default")?.get("dbcnx")?;
    let password = dbcnx.get("password").filter(|p| p.tag == Tag::Age)?;
    let at = &password.origin;
    let field = |diags: &mut Diagnostics, key: &str| -> Option<String> {
        match dbcnx.get(key).and_then(Value::as_str) {
            Some(v) if !v.is_empty() => Some(v.to_string()),
            _ => {
                diags.push(
                    Diagnostic::at(
                        at.location(),
                        format!("instances.{instance}.{DBCNX_PATH}: `{key}` is needed to set the password (nlserver config -setdblogin)"),
                    )
                    .with_help(format!("set `{key}` beside the password")),
                );
                None
            }
        }
    };
    let (provider, login, server) = (field(diags, "provider"), field(diags, "login"), field(diags, "server"));
    let (provider, login, server) = (provider?, login?, server?);
    if !PROVIDERS.iter().any(|p| p.eq_ignore_ascii_case(&provider)) {
        diags.push(
            Diagnostic::at(
                at.location(),
                format!(
                    "instances.{instance}.{DBCNX_PATH}: nlserver config -setdblogin cannot set a `{provider}` login"
                ),
            )
            .with_help(
                "it takes PostgreSQL, MSSQL, Oracle and ODBC; for another provider leave the password out of the YAML",
            ),
        );
        return None;
    }
    let oracle = provider.eq_ignore_ascii_case("oracle");
    let mut ok = true;
    for (key, value) in [("login", &login), ("server", &server)] {
        if let Some(c) = value.chars().find(|c| matches!(c, '/' | '@') || c.is_whitespace() || c.is_control()) {
            ok = false;
            diags.push(Diagnostic::at(
                at.location(),
                format!(
                    "instances.{instance}.{DBCNX_PATH}.{key} `{value}` holds {}: nlserver config -setdblogin:<provider>:<login>/<password>@<server> cannot carry it",
                    shown_char(c)
                ),
            ));
        }
    }
    if oracle && login.contains(':') {
        ok = false;
        diags.push(
            Diagnostic::at(
                at.location(),
                format!("instances.{instance}.{DBCNX_PATH}.login `{login}`: an Oracle login is the user alone"),
            )
            .with_help("Oracle takes no `account:database`: write the user (schema) only"),
        );
    }
    let password = secrets.get(&password.origin).copied()?;
    ok.then(|| DbLogin { provider, login, server, password, origin: at.clone() })
}

/// A character named for a message (non-secret fields only).
fn shown_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Why a password cannot go through `-setdblogin`, if it cannot: the separators of the argument
/// (`/`, `@`, `:`), a double quote for MSSQL (the password is quoted), a control character, or
/// surrounding whitespace. Said without quoting the password.
pub fn password_problem(login: &DbLogin, password: &str) -> Option<String> {
    if password.is_empty() {
        return Some("is empty".into());
    }
    if let Some(c) = password.chars().find(|c| matches!(c, '/' | '@' | ':')) {
        return Some(format!(
            "contains `{c}`, a separator of nlserver config -setdblogin:<provider>:<login>/<password>@<server>: nlserver could split it elsewhere"
        ));
    }
    if login.is_mssql() && password.contains('"') {
        return Some("contains `\"`: for MSSQL nlserver takes the password between double quotes".into());
    }
    if password.chars().any(char::is_control) || password.trim() != password {
        return Some(
            "has surrounding whitespace or a control character (a newline?): nlserver would store it as is".into(),
        );
    }
    None
}
