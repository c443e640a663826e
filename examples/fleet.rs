//! Fleet generator for nlconf's benchmarks (bench/README.md): writes a realistic, synthetic config
//! repository with one environment, `fleet`, and a deployed tree in which a share of the files drifted.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example fleet -- --out DIR [--instances 200] [--containers 5] [--secrets 300]
//!     [--drift 0.10] [--seed 1] [--shape per-instance|one-file] [--age-cli] [--nlconf target/release/nlconf]
//!     [--no-deploy] [--unbound]
//! ```
//!
//! It writes:
//! - `DIR/environments/fleet/environment.yaml`: build, a local target (`conf_dir: deployed/{container}`)
//!   and the defaults every instance shares (dataStore, urlPermission list, process elements);
//! - the instances: dataStore with two data sources, a relay url list of about 40 entries, redirection,
//!   security zone, pipelined, the `ims:` block, and `containerOverrides` per container role (web,
//!   workflow, MTA); containers are named per instance (`i042-web1`), since `conf_dir` is
//!   `deployed/{container}`. The repository's shape says where: `--shape per-instance` (the default)
//!   writes `DIR/environments/fleet/NNN-<instance>.yaml`, one file per instance; `--shape one-file`
//!   writes them all under `instances:` in `environment.yaml`, the whole environment in one file (the
//!   same settings, byte for byte the same rendered files);
//! - `DIR/environments/fleet/recipients` and `DIR/identity.txt`: a freshly generated X25519 key pair.
//!   Secrets are `!age` values, `ims.clientSecret` of each instance first, then
//!   `shared.proxyConfig.proxyHTTP.password`, then `...proxyHTTPS.password`; encrypted with the `age`
//!   crate and bound to their place with the header `nlconf secret rekey` writes (written here, so
//!   that generating a fleet needs no second pass over its files), or with
//!   `--age-cli` by the `age` command (`age -a -R recipients`), as a person encrypts by hand: without
//!   nlconf's binding header (`--unbound`: the crate, without the header);
//! - `DIR/rendered/<container>/config-<instance>.xml`: rendered by the real binary
//!   (`nlconf render --reveal`), then given what nlserver
//!   writes into every real file and nlconf keeps (carries over): the default data source's encrypted
//!   password (`password="@..." encrypted="1"`, as `nlserver config -setdblogin` leaves it) and, for
//!   instances with an `ims:` block, `<shared><ims authIMSTAClientId=... authIMSTAClientSecret="@..."
//!   authIMSTAId=.../>` (as `nlserver config -setimsoauth` leaves it). This is what apply would write;
//! - `DIR/deployed/<container>/config-<instance>.xml`: a copy of `rendered/`, drifted: in a share of the
//!   files (`--drift`) an attribute value changed, and sometimes a typo'd attribute was added or a relay
//!   rule removed. `DIR/drifted.txt` lists them. `diff -ru DIR/rendered DIR/deployed` shows the drift.
//!
//! The content is deterministic for a seed (the age ciphertexts and the key are not: age encrypts with
//! fresh randomness). Uses only std and the crate's own dependencies.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: fleet --out DIR [--instances 200] [--containers 5] [--secrets 300] [--drift 0.10] \
[--seed 1] [--shape per-instance|one-file] [--age-cli] [--nlconf PATH] [--no-deploy] [--unbound]";

/// Marks a folder this generator wrote, so that a second run may replace it.
const MARKER: &str = ".nlconf-fleet";

/// Where the instances are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `environment.yaml` and one `NNN-<instance>.yaml` per instance.
    PerInstance,
    /// The whole environment in `environment.yaml`.
    OneFile,
}

/// What to generate. The benchmarks (`benches/core.rs`) include this file to write fixtures.
pub struct Args {
    pub out: PathBuf,
    pub instances: usize,
    pub containers: usize,
    pub secrets: usize,
    pub drift: f64,
    pub seed: u64,
    pub nlconf: Option<PathBuf>,
    pub deploy: bool,
    pub bind: bool,
    pub shape: Shape,
    /// Encrypt with the `age` command, without nlconf's binding header (implies no binding).
    pub age_cli: bool,
}

impl Args {
    /// The defaults: 200 instances x 5 containers, 300 secrets, 10% drift, seed 1.
    pub fn new(out: impl Into<PathBuf>) -> Args {
        Args {
            out: out.into(),
            instances: 200,
            containers: 5,
            secrets: 300,
            drift: 0.10,
            seed: 1,
            nlconf: None,
            deploy: true,
            bind: true,
            shape: Shape::PerInstance,
            age_cli: false,
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args::new("");
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--instances" => a.instances = number(&value("--instances")?, "--instances")?,
            "--containers" => a.containers = number(&value("--containers")?, "--containers")?,
            "--secrets" => a.secrets = number(&value("--secrets")?, "--secrets")?,
            "--seed" => a.seed = number(&value("--seed")?, "--seed")?,
            "--drift" => {
                let v = value("--drift")?;
                a.drift = v.parse().map_err(|_| format!("--drift: expected a fraction such as 0.10, found `{v}`"))?;
                if !(0.0..=1.0).contains(&a.drift) {
                    return Err("--drift must be between 0 and 1".into());
                }
            }
            "--nlconf" => a.nlconf = Some(PathBuf::from(value("--nlconf")?)),
            "--no-deploy" => a.deploy = false,
            "--unbound" => a.bind = false,
            "--age-cli" => a.age_cli = true,
            "--shape" => {
                a.shape = match value("--shape")?.as_str() {
                    "per-instance" => Shape::PerInstance,
                    "one-file" => Shape::OneFile,
                    other => return Err(format!("--shape: expected `per-instance` or `one-file`, found `{other}`")),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    a.out = out.ok_or("--out DIR is required")?;
    if a.instances == 0 || a.containers == 0 {
        return Err("--instances and --containers must be at least 1".into());
    }
    if a.secrets > 3 * a.instances {
        return Err(format!("--secrets: at most 3 per instance ({})", 3 * a.instances));
    }
    Ok(a)
}

fn number<T: std::str::FromStr>(v: &str, name: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{name}: expected a number, found `{v}`"))
}

/// SplitMix64: small, deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

const UPPER_HEX: &[u8] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Spreads `k` of `n` items evenly: whether item `i` is one of them.
fn spread(i: usize, k: usize, n: usize) -> bool {
    (i + 1) * k / n != i * k / n
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A YAML single-quoted scalar (for regular expressions: backslashes stay as they are).
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Secrets {
    recipient: age::x25519::Recipient,
    /// With `--age-cli`: the recipients file the `age` command encrypts to.
    age_cli: Option<PathBuf>,
    /// The digest of the recipient set, when the secrets are bound to their place.
    bind: Option<String>,
    count: usize,
}

impl Secrets {
    /// `!age |` and the armored ciphertext of the value at YAML path `path`, indented by `indent`
    /// spaces, ending with a newline; bound to its place, with the header `nlconf secret rekey`
    /// writes (README, "the binding header"), unless unbound.
    fn block(&mut self, plaintext: &str, indent: usize, path: &str) -> Result<String, String> {
        let armor = match &self.age_cli {
            None => age::encrypt_and_armor(&self.recipient, plaintext.as_bytes()).map_err(|e| e.to_string())?,
            Some(recipients) => age_cli(recipients, plaintext)?,
        };
        self.count += 1;
        let pad = " ".repeat(indent);
        let mut s = String::from("!age |\n");
        if let Some(digest) = &self.bind {
            let _ = writeln!(s, "{pad}nlconf:v1 env=fleet path={path} recipients={digest}");
        }
        for line in armor.lines() {
            let _ = writeln!(s, "{pad}{line}");
        }
        Ok(s)
    }
}

/// `age -a -R RECIPIENTS`, the plaintext on stdin: what a person types to encrypt a value by hand.
fn age_cli(recipients: &Path, plaintext: &str) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new("age")
        .arg("-a")
        .arg("-R")
        .arg(recipients)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("--age-cli: cannot run `age` ({e}); install it (apt-get install age)"))?;
    child.stdin.take().ok_or("age: no stdin")?.write_all(plaintext.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("`age -a -R` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8(out.stdout).map_err(|_| "age wrote something that is not text".to_string())
}

/// The container names of an instance: roles web, web, wf, mta, mta, repeating.
fn containers(inst: &str, n: usize) -> Vec<(String, &'static str)> {
    const ROLES: [&str; 5] = ["web", "web", "wf", "mta", "mta"];
    let mut counts = [0usize; 3];
    (0..n)
        .map(|j| {
            let role = ROLES[j % ROLES.len()];
            let k = match role {
                "web" => 0,
                "wf" => 1,
                _ => 2,
            };
            counts[k] += 1;
            (format!("{inst}-{role}{}", counts[k]), role)
        })
        .collect()
}

const PARTNERS: &[(&str, &str)] = &[
    ("adobelogin.com", r"https://ims-na1\.adobelogin\.com/.*"),
    ("services.adobe.com", r"https://adobeid-na1\.services\.adobe\.com/.*"),
    ("adobe.io", r"https://.*\.adobe\.io/.*"),
    ("omniture.com", r"https://api\.omniture\.com/.*"),
    ("adobe.net", r"https://producer-pipeline-pnw\.adobe\.net/.*"),
    ("salesforce.com", r"https://[a-z0-9-]+\.my\.salesforce\.com/services/.*"),
    ("googleapis.com", r"https://www\.googleapis\.com/(oauth2|bigquery)/.*"),
    ("twilio.com", r"https://api\.twilio\.com/2010-04-01/.*"),
    ("sendgrid.net", r"https://api\.sendgrid\.net/v3/.*"),
    ("slack.com", r"https://hooks\.slack\.com/services/.*"),
    ("amazonaws.com", r"https://[a-z0-9-]+\.s3\.[a-z0-9-]+\.amazonaws\.com/.*"),
    ("blob.core.windows.net", r"https://[a-z0-9]+\.blob\.core\.windows\.net/.*"),
    ("fleet.example.net", r"https://api\.fleet\.example\.net/v[12]/.*"),
    ("loyalty.example.com", r"https://loyalty\.example\.com/api/.*"),
    ("orders.example.com", r"https://orders\.example\.com/v2/.*"),
    ("crm.example.com", r"https://crm\.example\.com/rest/.*"),
    ("geo.example.org", r"https://geo\.example\.org/lookup/.*"),
    ("cdn.example.com", r"https://cdn\.example\.com/assets/.*"),
    ("weather.example.org", r"https://api\.weather\.example\.org/forecast/.*"),
    ("translate.example.net", r"https://translate\.example\.net/v3/.*"),
    ("survey.example.com", r"https://survey\.example\.com/api/responses/.*"),
    ("payments.example.com", r"https://payments\.example\.com/webhooks/.*"),
];

fn environment_yaml(a: &Args) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Generated by `cargo run --release --example fleet` (seed {}): {} instances x {} containers,\n\
         # a synthetic fleet for nlconf's benchmarks (bench/README.md). Not a real configuration.\n",
        a.seed, a.instances, a.containers
    );
    y.push_str(
        "campaign:\n  build: 9400\n\ntarget:\n  kind: local\n  conf_dir: deployed/{container}\n\n\
         defaults:\n  serverconf:\n    shared:\n      dataStore:\n        lang: en_US\n",
    );
    let _ = writeln!(y, "        uploadAllowlist: {}", sq(r".+\.(csv|txt|zip|gz|png|jpe?g|gif|pdf)"));
    y.push_str(
        "        dataSource:\n          default:\n\
         \x20           dbcnx: { provider: PostgreSQL, unicodeData: true, useTimestampTZ: true, timezone: Europe/Paris }\n\
         \x20           pool: { aliveTestDelaySec: 300, maxIdleDelaySec: 600, maxCnx: 50 }\n\
         \x20       mapping:\n          \"*\": { physical: default }\n\
         \x20     javaScript: { maxMB: 512 }\n\
         \x20     # Outbound HTTP from workflows and JSSP is denied unless listed.\n\
         \x20     urlPermission:\n        action: deny\n        url:\n",
    );
    for (dns, re) in PARTNERS {
        let _ = writeln!(y, "          - {{ dnsSuffix: {dns}, urlRegEx: {} }}", sq(re));
    }
    y.push_str(
        "    # Every process is declared off; each container role turns on what it runs (containerOverrides).\n\
         \x20   wfserver: { autoStart: false, processRestartTime: \"04:45:00\", maxProcessMemoryWarningMb: 2560, maxProcessMemoryAlertMb: 3072 }\n\
         \x20   mta: { autoStart: false, processRestartTime: \"05:15:00\" }\n\
         \x20   inMail: { autoStart: false, processRestartTime: \"05:15:00\" }\n\
         \x20   stat: { autoStart: false }\n\
         \x20   tracking: { autoStart: false }\n\
         \x20   sms: { autoStart: false }\n\
         \x20   listProtect: { autoStart: false }\n",
    );
    y
}

/// What one instance carries, decided before writing it.
struct Plan {
    ims: bool,
    proxy_http: bool,
    proxy_https: bool,
}

const RELAY_FIXED: &[(&str, &str)] = &[
    ("/nl/jsp/soaprouter.jsp", "office"),
    ("/nl/jsp/m.jsp", "public"),
    ("/nl/jsp/s.jsp", "public"),
    ("/nl/jsp/logon.jsp", "office"),
    ("/nl/jsp/*", "office"),
    ("/nl/jsp/*", "deny"),
    ("/xtk/*", "office"),
    ("/nms/*", "office"),
    ("/report/*", "office"),
    ("/view/*", "public"),
    ("/r/*", "public"),
    ("/res/*", "public"),
    ("/webApp/*", "public"),
    ("*.jssp", "public"),
    ("/interaction/*", "office"),
    ("/pipelined/*", "monitor"),
    ("/favicon.ico", "public"),
    ("/crossdomain.xml", "public"),
    ("/img/*", "public"),
    ("/css/*", "public"),
    ("/js/*", "public"),
    ("/nl/img/*", "public"),
];

const PAGES: &[&str] = &[
    "spring-sale",
    "loyalty",
    "preferences",
    "unsubscribe",
    "newsletter",
    "store-locator",
    "back-to-school",
    "black-friday",
    "gift-cards",
    "survey",
    "events",
    "careers",
    "b2b",
    "partners",
    "recall",
    "warranty",
    "referral",
    "app",
    "rewards",
    "holiday",
    "clearance",
    "new-arrivals",
    "outlet",
    "vip",
];

fn instance_yaml(
    a: &Args,
    idx: usize,
    inst: &str,
    plan: &Plan,
    rng: &mut Rng,
    secrets: &mut Secrets,
) -> Result<String, String> {
    let net = 64 + idx % 190;
    let region = rng.pick(&["eu-west", "eu-central", "us-east", "us-west", "ap-southeast"]);
    let domain = format!("{inst}.brands.example.com");
    let host = |c: &str| format!("{c}.{region}.fleet.example.net");
    let cs = containers(inst, a.containers);
    let first = |role: &str| cs.iter().find(|(_, r)| *r == role).map(|(n, _)| n.clone());
    let org = format!("{}@AdobeOrg", rng.chars(24, UPPER_HEX));
    let mut y = String::new();
    match a.shape {
        Shape::PerInstance => {
            let _ = writeln!(y, "# {inst}: brand {idx}, hosted in {region} (generated).\n\ninstances:");
        }
        // Under the environment file's `instances:`.
        Shape::OneFile => {
            let _ = writeln!(y, "\n  # {inst}: brand {idx}, hosted in {region} (generated).");
        }
    }
    let _ = writeln!(y, "  {inst}:\n    containers:");
    for (c, role) in &cs {
        let _ = writeln!(y, "      {c}: {{ host: {} }}   # {role}", host(c));
    }
    y.push_str("\n    serverconf:\n      shared:\n        dataStore:\n");
    let _ = writeln!(y, "          hosts: {}", q(&format!("{domain}*,t.{domain}*,m.{domain}*")));
    let _ = writeln!(y, "          extraSandboxedDirectories: {}", q(&format!("/sftp/{inst}/,/mnt/exports/{inst}/")));
    y.push_str("          dataSource:\n            default:\n");
    let _ = writeln!(
        y,
        "              dbcnx: {{ server: pg-{inst}.{region}.fleet.example.net, login: {} }}",
        q(&format!("campaign:{inst}"))
    );
    if rng.chance(0.6) {
        let _ = writeln!(
            y,
            "            dwh:   # the data warehouse, read by the scoring workflows\n\
             \x20             dbcnx: {{ provider: PostgreSQL, server: dwh-{region}.fleet.example.net, login: {}, dbSchema: {inst}_mart, timezone: UTC }}\n\
             \x20             pool: {{ maxCnx: {}, aliveTestDelaySec: 600 }}",
            q(&format!("reader:{inst}")),
            rng.range(5, 20)
        );
    }
    y.push_str("          virtualDir:\n");
    for d in ["images", "docs"] {
        let _ = writeln!(y, "            {d}: {{ path: /srv/media/{inst}/{d} }}");
    }
    if plan.proxy_http || plan.proxy_https {
        y.push_str(
            "        # Outbound calls go through the regional proxy, with a service account.\n        proxyConfig:\n",
        );
        let _ = writeln!(y, "          enabled: true\n          override: {}", q("localhost*,*.fleet.example.net"));
        for (on, el, port) in [(plan.proxy_http, "proxyHTTP", 3128), (plan.proxy_https, "proxyHTTPS", 3129)] {
            if !on {
                continue;
            }
            let _ = writeln!(y, "          {el}:\n            address: proxy.{region}.fleet.example.net");
            let _ = writeln!(y, "            port: {port}\n            login: svc_{inst}");
            let password = rng.chars(24, ALNUM);
            let path = format!("instances.{inst}.serverconf.shared.proxyConfig.{el}.password");
            let _ = write!(y, "            password: {}", secrets.block(&password, 14, &path)?);
        }
    }
    if rng.chance(0.2) {
        y.push_str("        urlPermission:   # this brand calls more partners: the whole list, lists replace\n          action: deny\n          url:\n");
        for (dns, re) in PARTNERS.iter().chain(&[("brands.example.com", r"https://api\.brands\.example\.com/.*")]) {
            let _ = writeln!(y, "            - {{ dnsSuffix: {dns}, urlRegEx: {} }}", sq(re));
        }
    }
    y.push_str("\n      web:\n        relay:\n          # First match wins: specific paths above the catch-alls.\n          url:\n");
    let office = format!("10.20.*,10.60.*,10.{net}.*");
    let pages = rng.range(14, 22);
    let mut relay: Vec<(String, &str)> = RELAY_FIXED.iter().map(|(p, k)| (p.to_string(), *k)).collect();
    let mut names: Vec<&str> = PAGES.to_vec();
    rng.shuffle(&mut names);
    for p in names.iter().take(pages) {
        relay.insert(relay.len() - 8, (format!("/lp/{p}/*"), "public"));
    }
    for (path, kind) in &relay {
        let _ = writeln!(y, "            - urlPath: {}", q(path));
        match *kind {
            "deny" => y.push_str("              deny: true\n"),
            _ => {
                let port = if *kind == "monitor" { 7781 } else { 8080 };
                let _ = writeln!(
                    y,
                    "              targetUrl: {}\n              relayHost: true\n              relayPath: true",
                    q(&format!("http://localhost:{port}"))
                );
                match *kind {
                    "office" => {
                        let _ = writeln!(y, "              IPMask: {}", q(&office));
                    }
                    "monitor" => {
                        let _ = writeln!(y, "              IPMask: {}", q(&format!("10.{net}.9.*")));
                    }
                    _ => {}
                }
                if path == "/report/*" {
                    y.push_str("              timeout: 300\n");
                }
            }
        }
    }
    y.push_str(
        "          responseHeader:\n\
         \x20           Strict-Transport-Security: { value: \"max-age=31536000; includeSubDomains\" }\n\
         \x20           X-Content-Type-Options: { value: nosniff }\n\
         \x20       redirection:\n",
    );
    let _ = writeln!(y, "          databaseId: u{}", rng.chars(16, UPPER_HEX));
    if plan.ims {
        let _ = writeln!(y, "          IMSOrgId: {org}");
    }
    let _ = writeln!(
        y,
        "          cookieDomain: .{domain}\n          expirationURL: {}",
        q(&format!("https://www.{domain}/"))
    );
    y.push_str("          spareServer:\n");
    for (n, (c, _)) in cs.iter().filter(|(_, r)| *r == "web").enumerate() {
        let _ = writeln!(
            y,
            "            \"{}\": {{ url: {}, enabledIf: {} }}",
            n + 1,
            q(&format!("http://{}:8080", host(c))),
            q(&format!("$(hostname)!='{c}'"))
        );
    }
    y.push('\n');
    if let Some(m) = first("mta") {
        let _ = writeln!(y, "      mta:\n        statServerAddress: {}", host(&m));
        let _ = writeln!(y, "        master: {{ maxSpareServers: {} }}", rng.range(2, 8));
        y.push_str("        child:\n          smtp: { enableTLS: true }\n");
    }
    let _ = writeln!(y, "      inMail:\n        errorForwardAddress: campaign-ops@{domain}");
    let _ = writeln!(y, "        defaultForwardAddress: customer-replies@{domain}");
    let _ = writeln!(y, "      tracking:\n        consolidationPeriodSec: {}", rng.pick(&["300", "600", "900"]));
    if plan.ims {
        let threads = rng.pick(&["4", "8"]);
        let _ = writeln!(
            y,
            "      pipelined:\n        autoStart: false\n        authType: imsJwtToken\n        monitorServerPort: 7781\n\
             \x20       processingThreads: {threads}\n        processingJSThreads: {threads}\n        processRestartTime: \"04:50:00\""
        );
    }
    let _ = writeln!(
        y,
        "      securityZone:\n        corp_{inst}:\n          label: {}\n          allowHTTP: false\n          allowDebug: false\n\
         \x20         showErrors: false\n          sessionTokenOnly: false\n          subNetwork:",
        q(&format!("{inst} offices and VPN"))
    );
    let lb = format!("10.{net}.1.5,10.{net}.1.6");
    let _ = writeln!(y, "            hq: {{ label: Head office, mask: 10.20.0.0/16, proxy: {} }}", q(&lb));
    let _ = writeln!(y, "            vpn: {{ label: VPN pool, mask: 10.60.0.0/16, proxy: {} }}", q(&lb));
    if plan.ims {
        let _ = writeln!(
            y,
            "\n    ims:\n      auth: oauth\n      orgId: {org}\n      clientId: {}\n      technicalAccountId: {}@techacct.adobe.com",
            rng.chars(32, LOWER_HEX),
            rng.chars(24, UPPER_HEX)
        );
        let secret = format!("p8e-{}", rng.chars(32, ALNUM));
        let path = format!("instances.{inst}.ims.clientSecret");
        let _ = write!(y, "      clientSecret: {}", secrets.block(&secret, 8, &path)?);
    }
    y.push_str("\n    containerOverrides:\n");
    let mut mta_n = 0;
    for (c, role) in &cs {
        let _ = writeln!(y, "      {c}:\n        serverconf:");
        match *role {
            "web" => {
                let _ = writeln!(
                    y,
                    "          shared: {{ dataStore: {{ dataSource: {{ default: {{ pool: {{ maxCnx: {} }} }} }} }} }}",
                    rng.pick(&["60", "80", "100"])
                );
            }
            "wf" => {
                y.push_str("          shared: { dataStore: { dataSource: { default: { pool: { maxCnx: 100 } } } } }\n");
                y.push_str("          wfserver: { autoStart: true, affinity: \"sftp,\" }\n          tracking: { autoStart: true }\n");
                if plan.ims {
                    y.push_str("          pipelined: { autoStart: true }\n");
                }
            }
            _ => {
                mta_n += 1;
                y.push_str("          mta:\n            autoStart: true\n            child:\n              smtp:\n                IPAffinity:\n");
                for (k, aff) in ["promo", "service"].iter().enumerate() {
                    let ip = format!("10.{net}.50.{}", mta_n * 10 + k);
                    let _ = writeln!(
                        y,
                        "                  {aff}:\n                    localDomain: mail.{domain}\n                    IP:\n\
                         \x20                     {ip}: {{ heloHost: mta{mta_n}-{aff}.mail.{domain}, publicId: {}, weight: 1 }}",
                        mta_n * 2 + k - 1
                    );
                }
                y.push_str("          inMail: { autoStart: true }\n");
                if mta_n == 1 {
                    y.push_str("          stat: { autoStart: true }\n");
                }
            }
        }
    }
    Ok(y)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Refuses to write into a folder this generator did not make; empties one it did.
fn prepare(out: &Path) -> Result<(), String> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
        if entries.next().is_some() && !out.join(MARKER).exists() {
            return Err(format!(
                "{} is not empty and was not written by this generator; choose another --out",
                out.display()
            ));
        }
        for name in ["environments", "deployed", "rendered"] {
            let p = out.join(name);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(out.join("environments/fleet")).map_err(|e| format!("{}: {e}", out.display()))
}

fn nlconf_binary(a: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &a.nlconf {
        return Ok(p.clone());
    }
    // target/<profile>/examples/fleet -> target/<profile>/nlconf
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join(format!("nlconf{}", std::env::consts::EXE_SUFFIX)));
    match bin {
        Some(b) if b.exists() => Ok(b),
        _ => Err("cannot find the nlconf binary next to this example: run `cargo build --release` first, or pass --nlconf PATH".into()),
    }
}

fn run(bin: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(bin).args(args).output().map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`nlconf {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// The byte ranges of the values of `name="..."` attributes in `text` whose value is a number or a Boolean.
fn scalar_values(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find("=\"") {
        let start = i + off + 2;
        let Some(len) = text[start..].find('"') else { break };
        let v = &text[start..start + len];
        let name_start = text[..i + off].rfind(' ').map_or(0, |p| p + 1);
        let name = &text[name_start..i + off];
        let is_value = v == "true" || v == "false" || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        let attribute = name_start > 0 && bytes[name_start - 1] == b' ';
        if is_value && attribute && !matches!(name, "port" | "publicId" | "password") {
            out.push(start..start + len);
        }
        i = start + len + 1;
    }
    out
}

/// A hand edit on the deployed file: a changed value, maybe a typo'd attribute, maybe a removed rule.
fn drift(text: &str, rng: &mut Rng) -> String {
    let mut t = text.to_string();
    let values = scalar_values(&t);
    if !values.is_empty() {
        let r = values[rng.below(values.len())].clone();
        let new = match &t[r.clone()] {
            "true" => "false".to_string(),
            "false" => "true".to_string(),
            n => (n.parse::<u64>().unwrap_or(0) + 1 + rng.below(50) as u64).to_string(),
        };
        t.replace_range(r, &new);
    }
    if rng.chance(0.5) {
        let (tag, typo) = *[
            ("<mta ", "autoStrat=\"true\" "),
            ("<wfserver ", "procesRestartTime=\"06:00:00\" "),
            ("<pool ", "maxCnnx=\"60\" "),
            ("<inMail ", "errorFowardAddress=\"ops@example.com\" "),
        ]
        .iter()
        .find(|(tag, _)| t.contains(tag))
        .unwrap_or(&("<serverconf", ""));
        if let Some(p) = t.find(tag) {
            t.insert_str(p + tag.len(), typo);
        }
    }
    if rng.chance(0.25) {
        let lines: Vec<usize> =
            t.match_indices("<url ").map(|(p, _)| p).filter(|p| t[*p..].contains("urlPath=")).collect();
        if let Some(&p) = lines.get(rng.below(lines.len().max(1))) {
            let start = t[..p].rfind('\n').map_or(0, |s| s + 1);
            let end = t[p..].find('\n').map_or(t.len(), |e| p + e + 1);
            t.replace_range(start..end, "");
        }
    }
    t
}

/// Writes the repository (environment files, recipients, identity), without the deployed tree.
/// Returns the number of YAML bytes and of secrets written.
pub fn write_repository(a: &Args) -> Result<(usize, usize), String> {
    prepare(&a.out)?;
    let env_dir = a.out.join("environments/fleet");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    {
        use age::secrecy::ExposeSecret;
        let key = identity.to_string();
        let text = format!(
            "# Generated by nlconf's fleet generator for benchmarks only. Never use for real secrets.\n\
             # public key: {recipient}\n{}\n",
            key.expose_secret()
        );
        let path = a.out.join("identity.txt");
        write(&path, &text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
    }
    write(
        &env_dir.join("recipients"),
        &format!("# The benchmark fleet's key: ../../identity.txt (generated, benchmarks only).\n{recipient}\n"),
    )?;
    let mut environment = environment_yaml(a);
    let age_cli = a.age_cli.then(|| env_dir.join("recipients"));
    // The binding's recipient digest: 16 hex digits of SHA-256 over the sorted recipient keys, each
    // followed by a line break (one key here).
    let bind = (a.bind && !a.age_cli).then(|| {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(format!("{recipient}\n").as_bytes());
        hash[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let mut secrets = Secrets { recipient, age_cli, bind, count: 0 };
    let ims_n = a.secrets.min(a.instances);
    let http_n = (a.secrets - ims_n).min(a.instances);
    let https_n = a.secrets - ims_n - http_n;
    let width = a.instances.to_string().len().max(3);
    let mut rng = Rng(a.seed);
    let mut bytes = 0;
    for idx in 0..a.instances {
        let inst = format!("i{:0width$}", idx + 1);
        let plan = Plan {
            ims: spread(idx, ims_n, a.instances),
            proxy_http: spread(idx, http_n, a.instances),
            proxy_https: spread(idx, https_n, a.instances),
        };
        let y = instance_yaml(a, idx + 1, &inst, &plan, &mut rng, &mut secrets)?;
        bytes += y.len();
        match a.shape {
            Shape::PerInstance => write(&env_dir.join(format!("{:0width$}-{inst}.yaml", idx + 1)), &y)?,
            Shape::OneFile => {
                if idx == 0 {
                    environment.push_str("\ninstances:\n");
                }
                environment.push_str(&y);
            }
        }
    }
    bytes = match a.shape {
        Shape::PerInstance => bytes + environment.len(),
        Shape::OneFile => environment.len(),
    };
    write(&env_dir.join("environment.yaml"), &environment)?;
    write(
        &a.out.join(MARKER),
        &format!(
            "instances={} containers={} secrets={} drift={} seed={} shape={:?} age_cli={}\n",
            a.instances, a.containers, a.secrets, a.drift, a.seed, a.shape, a.age_cli
        ),
    )?;
    Ok((bytes, secrets.count))
}

/// Binds the secrets and writes the deployed tree with the real binary, then drifts it.
fn deploy(a: &Args) -> Result<(), String> {
    let bin = nlconf_binary(a)?;
    let dir = a.out.to_string_lossy().into_owned();
    let id = a.out.join("identity.txt").to_string_lossy().into_owned();
    // `rendered/` is what nlconf writes (secrets revealed): the left side of the byte-compare floor.
    let rendered = a.out.join("rendered");
    let rendered_s = rendered.to_string_lossy().into_owned();
    run(&bin, &["-C", &dir, "-q", "-i", &id, "render", "-e", "fleet", "--out", &rendered_s, "--reveal"])?;
    add_nlserver_values(a, &rendered)?;
    // `deployed/` is a copy of it, in which a seeded choice of files drifts. Stable order throughout.
    let deployed = a.out.join("deployed");
    let mut files = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&rendered).map_err(|e| e.to_string())?.filter_map(Result::ok).collect();
    dirs.sort_by_key(|d| d.file_name());
    for d in dirs {
        let mut inner: Vec<_> =
            std::fs::read_dir(d.path()).map_err(|e| e.to_string())?.filter_map(Result::ok).collect();
        inner.sort_by_key(|e| e.file_name());
        let to = deployed.join(d.file_name());
        std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
        for e in inner {
            let dest = to.join(e.file_name());
            std::fs::copy(e.path(), &dest).map_err(|err| format!("{}: {err}", dest.display()))?;
            files.push(dest);
        }
    }
    let total: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    let n = (files.len() as f64 * a.drift).round() as usize;
    let mut order: Vec<usize> = (0..files.len()).collect();
    let mut drng = Rng(a.seed ^ 0xD21F7);
    drng.shuffle(&mut order);
    let mut chosen: Vec<&PathBuf> = order.iter().take(n).map(|&i| &files[i]).collect();
    chosen.sort();
    let mut list = String::new();
    for f in &chosen {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        write(f, &drift(&text, &mut drng))?;
        let rel = f.strip_prefix(&deployed).unwrap_or(f);
        let _ = writeln!(list, "{}", rel.display());
    }
    write(&a.out.join("drifted.txt"), &list)?;
    eprintln!(
        "fleet: rendered {} files ({} KB on average) into {}, drifted {}",
        files.len(),
        total / files.len().max(1) as u64 / 1024,
        deployed.display(),
        chosen.len()
    );
    Ok(())
}

/// What nlserver writes into a real `config-<instance>.xml` and nlconf carries over: the default data
/// source's encrypted password, and the technical account's credentials (instances with `ims:`).
/// Each container's ciphertexts differ, as nlserver encrypts with the container's own key.
fn add_nlserver_values(a: &Args, rendered: &Path) -> Result<(), String> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // The technical account of each instance, from the YAML files (an instance is a key indented by
    // two spaces, in either shape).
    let mut accounts = std::collections::HashMap::new();
    let env_dir = a.out.join("environments/fleet");
    for e in std::fs::read_dir(&env_dir).map_err(|e| e.to_string())?.filter_map(Result::ok) {
        let text = std::fs::read_to_string(e.path()).map_err(|err| format!("{}: {err}", e.path().display()))?;
        let mut inst: Option<&str> = None;
        let mut id: Option<&str> = None;
        for l in text.lines() {
            if let Some(name) = l.strip_prefix("  ").and_then(|l| l.strip_suffix(':')).filter(|l| !l.starts_with(' ')) {
                inst = Some(name);
            } else if let Some(v) = l.trim().strip_prefix("clientId:") {
                id = Some(v.trim());
            } else if let (Some(v), Some(i), Some(c)) = (l.trim().strip_prefix("technicalAccountId:"), inst, id) {
                accounts.insert(i.to_string(), (c.to_string(), v.trim().to_string()));
            }
        }
    }
    let mut rng = Rng(a.seed ^ 0x5E7D_B10C);
    let mut dirs: Vec<_> = std::fs::read_dir(rendered).map_err(|e| e.to_string())?.filter_map(Result::ok).collect();
    dirs.sort_by_key(|d| d.file_name());
    for d in dirs {
        let mut files: Vec<_> =
            std::fs::read_dir(d.path()).map_err(|e| e.to_string())?.filter_map(Result::ok).collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            let inst =
                name.strip_prefix("config-").and_then(|n| n.strip_suffix(".xml")).unwrap_or_default().to_string();
            let mut text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let password = format!("@{}", rng.chars(44, B64));
            text = with_attributes(&text, "<dbcnx ", &[("encrypted", "1"), ("password", &password)])
                .ok_or_else(|| format!("{}: no <dbcnx> to give a password", path.display()))?;
            if let Some((id, ta)) = accounts.get(&inst) {
                let secret = format!("@{}", rng.chars(64, B64));
                let line = format!(
                    "    <ims authIMSTAClientId=\"{id}\" authIMSTAClientSecret=\"{secret}\" authIMSTAId=\"{ta}\"/>\n"
                );
                let at = text
                    .find("    </dataStore>\n")
                    .map(|i| i + "    </dataStore>\n".len())
                    .ok_or_else(|| format!("{}: no </dataStore> to put <ims> after", path.display()))?;
                text.insert_str(at, &line);
            }
            write(&path, &text)?;
        }
    }
    Ok(())
}

/// The first tag starting with `open` (e.g. `<dbcnx `), with `extra` attributes added, all in nlconf's
/// order (case-insensitive by name).
fn with_attributes(text: &str, open: &str, extra: &[(&str, &str)]) -> Option<String> {
    let start = text.find(open)?;
    let end = start + text[start..].find('>')?;
    let body = text[start + open.len()..end].trim_end_matches('/').trim();
    let mut attrs: Vec<(String, String)> = body
        .split("\" ")
        .filter_map(|pair| {
            let (name, value) = pair.split_once("=\"")?;
            Some((name.trim().to_string(), value.trim_end_matches('"').to_string()))
        })
        .collect();
    attrs.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    attrs.sort_by(|a, b| a.0.to_ascii_lowercase().cmp(&b.0.to_ascii_lowercase()).then_with(|| a.0.cmp(&b.0)));
    let shown: Vec<String> = attrs.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
    let close = if text[..end].ends_with('/') { "/>" } else { ">" };
    Some(format!("{}{}{}{close}{}", &text[..start], open, shown.join(" "), &text[end + 1..]))
}

fn generate(a: &Args) -> Result<(), String> {
    let (bytes, secrets) = write_repository(a)?;
    eprintln!(
        "fleet: wrote {} ({} instances, {bytes} YAML bytes, {secrets} secrets)",
        a.out.join("environments/fleet").display(),
        a.instances
    );
    if a.deploy { deploy(a) } else { Ok(()) }
}

#[allow(dead_code)] // not called when the benchmarks include this file as a module
fn main() -> ExitCode {
    match parse_args().and_then(|a| generate(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e}");
            if e.contains("required") || e.contains("unknown argument") {
                eprintln!("{USAGE}");
            }
            ExitCode::FAILURE
        }
    }
}
