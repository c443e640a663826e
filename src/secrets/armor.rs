//! A stored secret as text: the binding header line and the ASCII-armored age file.

use std::fmt;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::recipients::RecipientSet;

const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const END: &str = "-----END AGE ENCRYPTED FILE-----";
const COLUMNS: usize = 64;
const HEADER_TAG: &str = "nlconf:v1";

/// Where a ciphertext belongs: its environment, its YAML path, and the recipient set it
/// was encrypted to.
///
/// # The binding header
///
/// nlconf writes it as one line right before the armor:
///
/// ```text
/// nlconf:v1 env=<env> path=<yamlpath> recipients=<digest>
/// -----BEGIN AGE ENCRYPTED FILE-----
/// ...
/// -----END AGE ENCRYPTED FILE-----
/// ```
///
/// - The fields come in this order, separated by single spaces.
/// - `<env>` is the environment's folder name, `<yamlpath>` the dotted path of the key
///   from the environment's root (`instances.mkt_prod.ims.clientSecret`, a key holding a
///   dot is quoted: `instances."a.b".x`).
/// - In both, `%`, space and control characters are percent-encoded as `%XX` (upper-case
///   hex of each UTF-8 byte); every other character, including non-ASCII text, is
///   written as is. Neither may be empty.
/// - `<digest>` is [`RecipientSet::digest`]: 16 lower-case hex characters of SHA-256
///   over the sorted recipient keys, so it changes when a key is added, removed or
///   replaced, and not when lines are reordered or comments edited.
///
/// The header is outside the age file, and `age -d` refuses a text that starts with it:
/// strip the line (`sed 1d`) and `age -d` returns exactly the value. It protects against mistakes — a
/// ciphertext copied to another field or environment, or left encrypted to an old
/// recipient set — not against someone who can write to the repository: age has no
/// sender authentication, so such a person could encrypt any value anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub env: String,
    pub path: String,
    pub recipients_digest: String,
}

impl Binding {
    /// The binding of a value encrypted now, for `env` and `path`, to `recipients`.
    pub fn new(env: &str, path: &str, recipients: &RecipientSet) -> Binding {
        Binding { env: env.to_owned(), path: path.to_owned(), recipients_digest: recipients.digest() }
    }

    /// The header line, without a line ending.
    pub fn header_line(&self) -> String {
        format!(
            "{HEADER_TAG} env={} path={} recipients={}",
            percent_encode(&self.env),
            percent_encode(&self.path),
            self.recipients_digest
        )
    }

    /// Checks the fields that [`Binding::header_line`] cannot encode unambiguously.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.env.is_empty() {
            return Err("the binding's environment is empty".to_owned());
        }
        if self.path.is_empty() {
            return Err("the binding's YAML path is empty".to_owned());
        }
        if !is_digest(&self.recipients_digest) {
            return Err("the binding's recipient digest is not 16 lower-case hex characters".to_owned());
        }
        Ok(())
    }
}

/// How a ciphertext's binding relates to the place it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingStatus {
    /// Bound to this environment and path.
    Bound,
    /// No header: encrypted by hand (`age -a -R recipients`); `nlconf secret rekey` binds
    /// it.
    Unbound,
    /// Bound to another place: copied from there.
    Moved { from_env: String, from_path: String },
}

/// A problem in the text of a stored secret. `line` is 1-based within that text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CipherError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CipherError {}

/// A stored secret: an optional binding header, then one ASCII-armored age file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    pub binding: Option<Binding>,
    /// The armored age file, in the canonical form `age -a` writes: `\n` line endings,
    /// 64 columns, ending with a newline.
    pub armor: String,
}

impl Ciphertext {
    /// Parses a stored secret. Surrounding blank lines, indentation and CRLF line endings
    /// are accepted; the armor itself must be what `age -a` writes (64-column base64,
    /// padded), hold a well-formed age header, and be the only thing in the text apart
    /// from the header line.
    ///
    /// Messages never quote the text, which may be a plaintext pasted by mistake.
    pub fn parse(text: &str) -> Result<Ciphertext, CipherError> {
        let (binding, armor, _) = parse_text(text)?;
        Ok(Ciphertext { binding, armor })
    }

    /// The text to store: the header line (if any) then the armor, ending with a newline.
    pub fn to_text(&self) -> String {
        match &self.binding {
            Some(binding) => format!("{}\n{}", binding.header_line(), self.armor),
            None => self.armor.clone(),
        }
    }

    /// Compares the binding with the place the ciphertext was found at.
    pub fn check_binding(&self, env: &str, path: &str) -> BindingStatus {
        match &self.binding {
            None => BindingStatus::Unbound,
            Some(b) if b.env == env && b.path == path => BindingStatus::Bound,
            Some(b) => BindingStatus::Moved { from_env: b.env.clone(), from_path: b.path.clone() },
        }
    }

    /// The binary age file inside the armor. `armor` is a public field, so it is checked
    /// again here.
    pub(super) fn age_file(&self) -> Result<Vec<u8>, CipherError> {
        parse_text(&self.armor).map(|(_, _, bytes)| bytes)
    }
}

/// Parses a stored secret into its binding, canonical armor and binary age file.
fn parse_text(text: &str) -> Result<(Option<Binding>, String, Vec<u8>), CipherError> {
    let lines: Vec<Line<'_>> = text.split('\n').enumerate().map(|(i, raw)| Line::new(i + 1, raw)).collect();
    let mut rest = lines.iter().filter(|l| !l.text.is_empty()).peekable();

    let Some(first) = rest.peek().copied() else {
        return Err(CipherError {
            line: 1,
            message: format!(
                "the secret is empty: expected an ASCII-armored age file starting with \
                 `{BEGIN}` (write it with `nlconf secret set`)"
            ),
        });
    };
    let binding = if first.text.starts_with("nlconf:") {
        let binding = parse_header(first)?;
        rest.next();
        Some(binding)
    } else {
        None
    };

    let begin = match rest.next() {
        Some(line) if line.text == BEGIN => line,
        Some(line) => return Err(not_armor(line, binding.is_some())),
        None => {
            return Err(CipherError {
                line: first.number + 1,
                message: format!("expected `{BEGIN}` after the binding header, found the end of the text"),
            });
        }
    };

    let body = &lines[begin.number..];
    let (armor_lines, end_number) = armor_body(body, begin.number)?;

    if let Some(extra) = lines[end_number..].iter().find(|l| !l.text.is_empty()) {
        let message = if extra.text == BEGIN {
            "a second age armor block: a secret holds exactly one ciphertext".to_owned()
        } else {
            format!("unexpected text after `{END}`: a secret holds one ciphertext and nothing after it")
        };
        return Err(CipherError { line: extra.number, message });
    }

    let mut armor = String::with_capacity((armor_lines.len() + 2) * (COLUMNS + 1));
    armor.push_str(BEGIN);
    armor.push('\n');
    let mut bytes = Vec::with_capacity(armor_lines.len() * COLUMNS / 4 * 3);
    for line in &armor_lines {
        armor.push_str(line.text);
        armor.push('\n');
        // Already checked by armor_body.
        if let Err(err) = BASE64_STANDARD.decode_vec(line.text, &mut bytes) {
            return Err(base64_error(line, &err));
        }
    }
    armor.push_str(END);
    armor.push('\n');

    if let Err(why) = AgeHeader::scan(&bytes) {
        return Err(CipherError { line: begin.number + 1, message: why.to_owned() });
    }
    Ok((binding, armor, bytes))
}

/// One line of the text, without its line ending and surrounding whitespace.
struct Line<'a> {
    number: usize,
    /// 1-based column of `text` in the original line.
    column: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(number: usize, raw: &'a str) -> Line<'a> {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim_start();
        let column = raw[..raw.len() - trimmed.len()].chars().count() + 1;
        Line { number, column, text: trimmed.trim_end() }
    }
}

fn not_armor(line: &Line<'_>, after_header: bool) -> CipherError {
    let message = if line.text.starts_with("age-encryption.org/") {
        "this is a binary age file; nlconf stores secrets ASCII-armored: encrypt with `age -a` \
         (or `nlconf secret set`)"
            .to_owned()
    } else if line.text.starts_with("nlconf:") {
        "a second binding header line: expected the armor to start here".to_owned()
    } else if after_header {
        format!("expected `{BEGIN}` after the binding header, found other text")
    } else {
        format!(
            "expected `{BEGIN}` (an ASCII-armored age file, optionally after an `nlconf:v1` \
             header line), found other text; a plain value must be encrypted with `nlconf \
             secret set`"
        )
    };
    CipherError { line: line.number, message }
}

/// Checks the base64 lines after BEGIN (`body` starts right after it) and returns them
/// with the number of the END line.
fn armor_body<'t, 'l>(body: &'l [Line<'t>], begin_number: usize) -> Result<(Vec<&'l Line<'t>>, usize), CipherError> {
    let mut out = Vec::new();
    let mut short_seen = false;
    for (i, line) in body.iter().enumerate() {
        if line.text == END {
            if out.is_empty() {
                return Err(CipherError {
                    line: line.number,
                    message: "the armor is empty: the age file is missing between BEGIN and END".to_owned(),
                });
            }
            return Ok((out, line.number));
        }
        if line.text == BEGIN {
            return Err(CipherError {
                line: line.number,
                message: format!(
                    "a second `{BEGIN}` before `{END}`: the first block is truncated, and a \
                     secret holds exactly one ciphertext"
                ),
            });
        }
        if line.text.is_empty() {
            if body[i..].iter().all(|l| l.text.is_empty()) {
                break;
            }
            return Err(CipherError {
                line: line.number,
                message: "blank line inside the armor: the block must be contiguous".to_owned(),
            });
        }
        if line.text.starts_with("-----") {
            return Err(CipherError {
                line: line.number,
                message: format!("expected base64 or `{END}`, found another armor marker"),
            });
        }
        let n = line.text.len();
        if short_seen {
            return Err(CipherError {
                line: line.number,
                message: "only the last line of the armor may be shorter than 64 characters: \
                          lines are missing or were edited"
                    .to_owned(),
            });
        }
        if n > COLUMNS {
            return Err(CipherError {
                line: line.number,
                message: format!("armor lines are 64 characters wide (as `age -a` writes them); this one has {n}"),
            });
        }
        if let Err(err) = BASE64_STANDARD.decode(line.text) {
            return Err(base64_error(line, &err));
        }
        if n < COLUMNS || line.text.ends_with('=') {
            short_seen = true;
        }
        out.push(line);
    }
    let last = out.last().map_or(begin_number, |l| l.number);
    Err(CipherError {
        line: last + 1,
        message: format!("missing `{END}`: the ciphertext is truncated (copy the whole block)"),
    })
}

fn base64_error(line: &Line<'_>, err: &base64::DecodeError) -> CipherError {
    let message = match err {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("invalid base64 in the armor at column {}: the ciphertext was damaged", line.column + at)
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
            "the last armor line must be padded with `=` to a multiple of 4 characters: the \
             ciphertext was damaged or truncated"
                .to_owned()
        }
    };
    CipherError { line: line.number, message }
}

fn parse_header(line: &Line<'_>) -> Result<Binding, CipherError> {
    let err = |message: String| CipherError { line: line.number, message: format!("binding header: {message}") };
    let mut fields = line.text.split_ascii_whitespace();
    let tag = fields.next().unwrap_or_default();
    if tag != HEADER_TAG {
        return Err(err(format!(
            "unsupported version `{}`: this nlconf reads `{HEADER_TAG}` headers; upgrade nlconf",
            tag.chars().take(20).collect::<String>()
        )));
    }
    let (mut env, mut path, mut digest) = (None, None, None);
    for field in fields {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        let slot = match key {
            "env" => &mut env,
            "path" => &mut path,
            "recipients" => &mut digest,
            _ => {
                return Err(err(format!(
                    "unknown field `{}`: expected `{HEADER_TAG} env=<env> path=<yamlpath> \
                     recipients=<digest>`",
                    key.chars().take(20).collect::<String>()
                )));
            }
        };
        if slot.is_some() {
            return Err(err(format!("`{key}=` appears twice")));
        }
        *slot = Some(value);
    }
    let (Some(env), Some(path), Some(digest)) = (env, path, digest) else {
        return Err(err(format!(
            "expected `{HEADER_TAG} env=<env> path=<yamlpath> recipients=<digest>`, some fields \
             are missing"
        )));
    };
    let env = percent_decode(env).map_err(|m| err(format!("env: {m}")))?;
    let path = percent_decode(path).map_err(|m| err(format!("path: {m}")))?;
    let binding = Binding { env, path, recipients_digest: digest.to_owned() };
    binding.validate().map_err(err)?;
    Ok(binding)
}

fn is_digest(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '%' || c == ' ' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err("`%` must be followed by two hex digits".to_owned());
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| "percent-encoded bytes are not UTF-8".to_owned())?;
    if decoded.is_empty() {
        return Err("empty value".to_owned());
    }
    Ok(decoded)
}

/// What the header of an age file says about its recipients, as far as age reveals it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct AgeHeader {
    pub x25519: usize,
    /// (stanza type, key tag) of each SSH stanza.
    pub ssh: Vec<(String, String)>,
    pub scrypt: usize,
    /// Other stanza types (plugins, newer age versions).
    pub other: Vec<String>,
    /// Offset of the payload (nonce, then encrypted chunks).
    pub payload_offset: usize,
}

impl AgeHeader {
    /// Reads the textual header of a binary age file, without checking its MAC (age does
    /// that when decrypting).
    pub fn scan(bytes: &[u8]) -> Result<AgeHeader, &'static str> {
        let mut header = AgeHeader::default();
        let mut pos = 0;
        let mut next_line = || -> Option<&[u8]> {
            let rest = bytes.get(pos..)?;
            let end = rest.iter().position(|&b| b == b'\n')?;
            pos += end + 1;
            Some(&rest[..end])
        };
        match next_line() {
            Some(b"age-encryption.org/v1") => {}
            Some(line) if line.starts_with(b"age-encryption.org/") => {
                return Err("the age file uses a newer format version than this nlconf reads: \
                            upgrade nlconf");
            }
            _ => {
                return Err("the armor does not hold an age file (it must start with \
                            `age-encryption.org/v1`): the ciphertext was damaged");
            }
        }
        loop {
            let Some(line) = next_line() else {
                return Err("the age header is incomplete: the ciphertext is truncated");
            };
            if line.starts_with(b"--- ") {
                break;
            }
            if let Some(stanza) = line.strip_prefix(b"-> ") {
                let stanza = std::str::from_utf8(stanza).map_err(|_| "the age header is damaged")?;
                let mut args = stanza.split(' ');
                let tag = args.next().unwrap_or_default();
                match tag {
                    "X25519" => header.x25519 += 1,
                    "ssh-ed25519" | "ssh-rsa" => {
                        header.ssh.push((tag.to_owned(), args.next().unwrap_or_default().to_owned()))
                    }
                    "scrypt" => header.scrypt += 1,
                    t if t.ends_with("-grease") => {}
                    t => header.other.push(t.chars().take(40).collect()),
                }
            }
        }
        header.payload_offset = pos;
        Ok(header)
    }

    /// A sentence listing the recipients, for "no matching identity" errors.
    pub fn describe(&self, binding: Option<&Binding>) -> String {
        let mut parts = Vec::new();
        if self.x25519 > 0 {
            parts.push(format!(
                "{} X25519 recipient{} (age does not reveal which keys)",
                self.x25519,
                if self.x25519 == 1 { "" } else { "s" }
            ));
        }
        for (kind, tag) in &self.ssh {
            parts.push(format!("the {kind} key with tag {tag}"));
        }
        if self.scrypt > 0 {
            parts.push(
                "a passphrase (age -p), which nlconf does not use: re-encrypt it to the \
                 recipients"
                    .to_owned(),
            );
        }
        for tag in &self.other {
            parts.push(format!("a `{tag}` recipient, which nlconf does not support"));
        }
        let mut text = if parts.is_empty() {
            "it lists no recipient".to_owned()
        } else {
            format!("it is encrypted to {}", parts.join(", "))
        };
        if let Some(b) = binding {
            text.push_str(&format!(
                "; its header says recipient set {} (env {}, {})",
                b.recipients_digest, b.env, b.path
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests;
