//! The keys of an environment file at each level, as data (DESIGN §3). The loader (`env`) refuses
//! a key that is not here, with the closest one as a suggestion, and `nlconf schema` describes the
//! same tables to editors (`schema::json`), so that the two cannot disagree on what a file may hold.
//! How each value is then checked (ranges, ims rules, ...) is the loader's; the shapes here say as
//! much of it as an editor can check.

/// The nlserver binary when `nlserver:` is not set.
pub const DEFAULT_NLSERVER: &str = "/usr/local/neolane/nl6/bin/nlserver";
/// A container's conf folder when `target.conf_dir` is not set.
pub const DEFAULT_CONF_DIR: &str = "/usr/local/neolane/nl6/conf";
/// ssh's own default wait is the system's TCP timeout (minutes): nlconf's is 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: u32 = 10;

/// One key of a map in an environment file.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub shape: Shape,
    /// The value the loader takes when the key is absent.
    pub default: Default,
    /// What it is, for people (editors show it on hover).
    pub doc: &'static str,
}

/// What a key holds.
#[derive(Debug)]
pub enum Shape {
    /// A map with these keys.
    Map(&'static [Key]),
    /// A map from names (letters, digits, `_` and `-`: they name files and folders) to values of
    /// one shape: instances, containers.
    Named(&'static Shape),
    /// A scalar; for editors, the regular expression it matches (ECMA-262 syntax), if any.
    Text(Option<&'static str>),
    /// A whole number in this inclusive range.
    Whole(i64, i64),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A list of scalars.
    TextList,
    /// An `!age` secret: one ASCII-armored age ciphertext, set with `nlconf secret set`.
    Secret,
    /// `serverconf:`, checked against the built-in ACC schema (`crate::schema::Schema`).
    Serverconf,
    /// `restart:`, from element paths of the ACC schema to lists of nlserver modules (DESIGN §10).
    Restart,
}

/// A key's value when it is absent.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    None,
    Text(&'static str),
    Whole(i64),
}

/// Names of instances and containers (see `env::name_ok`).
/// No lookaround (not every editor's regex engine has it), and no nested ambiguity (no backtracking
/// blow-up while typing).
pub const NAME_PATTERN: &str = "^-?(?:[A-Za-z0-9_]+-)*[A-Za-z0-9_]+-?$|^-$";

const fn key(name: &'static str, shape: Shape, doc: &'static str) -> Key {
    Key { name, shape, default: Default::None, doc }
}

/// The top of an environment file (and of `environments/defaults.yaml`).
pub const TOP: &[Key] = &[
    key("campaign", Shape::Map(CAMPAIGN), "The ACC version the environment runs."),
    key(
        "target",
        Shape::Map(TARGET),
        "Where the containers' deployed files are: `local` folders on this machine, or over `ssh`.",
    ),
    Key {
        name: "nlserver",
        shape: Shape::Text(None),
        default: Default::Text(DEFAULT_NLSERVER),
        doc: "The nlserver binary on the containers (for local targets a relative path is relative to the repository).",
    },
    key(
        "defaults",
        Shape::Map(DEFAULTS),
        "Settings layered under every instance of the environment (`serverconf`, `ims`).",
    ),
    key(
        "instances",
        Shape::Named(&Shape::Map(INSTANCE)),
        "The ACC instances, by name: each renders config-<instance>.xml on each of its containers.",
    ),
    key(
        "restart",
        Shape::Restart,
        "Which nlserver modules restart after the reload when an element changes: element path (slash-separated, as `web/relay`) -> modules (`{instance}` is filled in); `[]` turns a built-in rule off.",
    ),
];

pub const CAMPAIGN: &[Key] = &[key(
    "build",
    Shape::Whole(1, u32::MAX as i64),
    "The ACC build number (9383 is 7.4.1): decides `nlserver config -setimsoauth` (>= 9383) or `-setimsjwtauth`, and what is valid.",
)];

pub const TARGET: &[Key] = &[
    Key {
        name: "kind",
        shape: Shape::OneOf(&["local", "ssh"]),
        default: Default::Text("local"),
        doc: "`local`: each container's conf folder is a folder on this machine; `ssh`: reached with the system ssh client as user@host.",
    },
    key("user", Shape::Text(None), "The ssh user (usually `neolane`)."),
    key("port", Shape::Whole(1, u16::MAX as i64), "The ssh port."),
    Key {
        name: "conf_dir",
        shape: Shape::Text(None),
        default: Default::Text(DEFAULT_CONF_DIR),
        doc: "The containers' conf folder; may contain `{container}` and `{instance}`.",
    },
    key(
        "options",
        Shape::TextList,
        "Extra `ssh -o` options, e.g. `ProxyJump=bastion.example.net`. Options that run a program on this machine (ProxyCommand, LocalCommand, ...) are refused: put them in ~/.ssh/config.",
    ),
    Key {
        name: "connect_timeout",
        shape: Shape::Whole(1, 3600),
        default: Default::Whole(DEFAULT_CONNECT_TIMEOUT as i64),
        doc: "Seconds ssh waits for a host to answer.",
    },
];

pub const DEFAULTS: &[Key] = &[SERVERCONF, IMS_KEY];

pub const INSTANCE: &[Key] = &[
    key(
        "containers",
        Shape::Named(&Shape::Map(CONTAINER)),
        "The containers (app servers) of the instance, by name; `{}` declares one, `null` removes one inherited from a lower layer.",
    ),
    SERVERCONF,
    IMS_KEY,
    key(
        "containerOverrides",
        Shape::Named(&Shape::Map(OVERRIDE)),
        "Per container (by name): settings layered over the instance's (`serverconf` only).",
    ),
];

pub const CONTAINER: &[Key] = &[
    key("host", Shape::Text(None), "The host name (ssh targets)."),
    key("conf_dir", Shape::Text(None), "This container's conf folder, over `target.conf_dir`."),
];

pub const OVERRIDE: &[Key] = &[SERVERCONF];

pub const IMS: &[Key] = &[
    key(
        "auth",
        Shape::OneOf(&["oauth", "jwt"]),
        "`oauth`: OAuth Server-to-Server (`nlserver config -setimsoauth`, ACC 7.4.1, build 9383, and later); `jwt`: Service Account (JWT), end of life (stops working on 2026-03-01). Without `auth` nlconf does not manage the credentials (as after `nlconf import`).",
    ),
    key(
        "orgId",
        Shape::Text(Some("^[A-Za-z0-9]{24}@AdobeOrg$")),
        "The Adobe organization ID: 24 letters or digits followed by @AdobeOrg.",
    ),
    key("clientId", Shape::Text(None), "The Developer Console client ID (32 lower-case hex digits)."),
    key(
        "technicalAccountId",
        Shape::Text(Some("^[A-Za-z0-9]+@techacct\\.adobe\\.com$")),
        "The technical account ID: letters and digits followed by @techacct.adobe.com.",
    ),
    key("clientSecret", Shape::Secret, "The credential's client secret (no `/`: it is nlserver's field separator)."),
    key(
        "privateKey",
        Shape::Secret,
        "`auth: jwt` only: the credential's RSA private key in PEM (PKCS#8 or PKCS#1), unencrypted.",
    ),
];

/// `serverconf:`, wherever it is (`defaults`, an instance, `containerOverrides.<container>`).
pub const SERVERCONF: Key = key(
    "serverconf",
    Shape::Serverconf,
    "Mirrors config-<instance>.xml below its root element: a map is an element, a scalar an attribute, spelled as Adobe spells them.",
);

const IMS_KEY: Key = key(
    "ims",
    Shape::Map(IMS),
    "The Adobe IMS technical account that Triggers (pipelined) authenticate with; nlconf sets it with nlserver on every container of the instance.",
);

/// Whether `name` is one of `keys`.
pub fn has(keys: &[Key], name: &str) -> bool {
    keys.iter().any(|k| k.name == name)
}

/// The names of `keys`, for suggestions.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}
