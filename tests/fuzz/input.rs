//! The inputs: arbitrary bytes, a soup of the format's tokens, and (most of the time) a file of the
//! repository mutated a few times, so that most cases get past the first line of the parser.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;

/// What a loader reads, as far as the mutations need to know.
pub struct Format {
    /// Tokens that mean something to the parser, inserted by mutations and used for the soup.
    pub tokens: &'static [&'static [u8]],
    /// Openings that nest one level deeper, repeated by the `Nest` mutation.
    pub nest: &'static [&'static [u8]],
    /// How deep `Nest` goes. XML stays under 200 levels: `support::xml` overflows the stack on
    /// very deep nesting (a known issue, being fixed apart from this harness).
    pub max_depth: usize,
}

/// Tokens every format gets: quoting and escaping, line ends, and bytes that are not UTF-8 or are
/// unusual in it (a lone continuation byte, a truncated sequence, the line separator, a BOM).
const COMMON: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b"\"",
    b"'",
    b"\\",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b" ",
    b"\0",
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\xef\xbb\xbf",
    b"\xf0\x9f\x94\x91",
    b"!age",
    b"{{",
    b"{%",
    b"%}",
    b"}}",
    b"=",
    b"%",
    b"-----BEGIN AGE ENCRYPTED FILE-----",
    b"-----END AGE ENCRYPTED FILE-----",
    b"99999999999999999999",
    b"-1",
];

/// The bytes of one case, and the seed they come from (whose place in a repository they take).
/// Shown as a byte string, so that a failure names the exact input.
#[derive(Clone)]
pub struct Input {
    pub seed: usize,
    pub bytes: Vec<u8>,
}

impl Input {
    /// The bytes as text, for loaders that take `&str` (files are read raw, so the UTF-8 check is
    /// fuzzed where it happens).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}, {} bytes: b\"{}\"", self.seed, self.bytes.len(), self.bytes.escape_ascii())
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: Index,
        bit: u8,
    },
    Set {
        at: Index,
        byte: u8,
    },
    Insert {
        at: Index,
        token: Index,
    },
    Delete {
        at: Index,
        len: u8,
    },
    Truncate {
        at: Index,
    },
    /// Copies a slice elsewhere (repeats keys, elements, armor lines).
    Duplicate {
        from: Index,
        len: u16,
        to: Index,
    },
    Nest {
        at: Index,
        opening: Index,
        depth: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<Index>(), 1..2048u16, any::<Index>()).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(at, opening, depth)| Mutation::Nest {
            at,
            opening,
            depth
        }),
    ]
}

fn token(format: &Format, i: &Index) -> &'static [u8] {
    let n = COMMON.len() + format.tokens.len();
    let k = i.index(n);
    if k < COMMON.len() { COMMON[k] } else { format.tokens[k - COMMON.len()] }
}

fn apply(mut b: Vec<u8>, m: &Mutation, format: &Format) -> Vec<u8> {
    let len = b.len();
    match m {
        Mutation::Flip { at, bit } if len > 0 => b[at.index(len)] ^= 1 << (bit % 8),
        Mutation::Set { at, byte } if len > 0 => b[at.index(len)] = *byte,
        Mutation::Insert { at, token: t } => {
            let i = at.index(len + 1);
            b.splice(i..i, token(format, t).iter().copied());
        }
        Mutation::Delete { at, len: n } if len > 0 => {
            let i = at.index(len);
            b.drain(i..(i + usize::from(*n) + 1).min(len));
        }
        Mutation::Truncate { at } => b.truncate(at.index(len + 1)),
        Mutation::Duplicate { from, len: n, to } if len > 0 => {
            let i = from.index(len);
            let slice = b[i..(i + usize::from(*n)).min(len)].to_vec();
            let j = to.index(len + 1);
            b.splice(j..j, slice);
        }
        Mutation::Nest { at, opening, depth } if !format.nest.is_empty() => {
            let opening = format.nest[opening.index(format.nest.len())];
            let prefix = opening.repeat(depth.index(format.max_depth) + 1);
            let i = at.index(len + 1);
            b.splice(i..i, prefix);
        }
        _ => {}
    }
    b
}

/// The inputs of a loader: its seeds mutated (most cases), arbitrary bytes, and token soup (these
/// two in the place of a seed too).
pub fn inputs(format: &'static Format, seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Input> {
    assert!(!seeds.is_empty(), "a loader needs at least one seed file");
    let n = seeds.len();
    let mutated = (0..n, prop::collection::vec(mutation(), 1..5)).prop_map(move |(seed, ms)| Input {
        seed,
        bytes: ms.iter().fold(seeds[seed].clone(), |b, m| apply(b, m, format)),
    });
    let arbitrary = (0..n, prop::collection::vec(any::<u8>(), 0..1024)).prop_map(|(seed, bytes)| Input { seed, bytes });
    let soup = (0..n, prop::collection::vec(any::<Index>(), 0..64))
        .prop_map(move |(seed, ts)| Input { seed, bytes: ts.iter().flat_map(|t| token(format, t)).copied().collect() });
    prop_oneof![1 => arbitrary, 1 => soup, 6 => mutated]
}

pub const YAML: Format = Format {
    tokens: &[
        b": ",
        b"- ",
        b"---\n",
        b"...\n",
        b"? ",
        b"&a ",
        b"*a",
        b"!empty",
        b"!!str ",
        b"!!map ",
        b"!unknown ",
        b"|\n",
        b">-\n",
        b"#",
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b"~",
        b"null",
        b"<<: *a\n",
        b"\n  ",
        b"instances:\n",
        b"containers:\n",
        b"containerOverrides:\n",
        b"serverconf:\n",
        b"ims:\n",
        b"rawAttributes:\n",
        b"target:\n",
        b"campaign:\n",
        b"build: ",
        b"nlconf:v1 env=prod path=x recipients=0000000000000000\n",
    ],
    nest: &[b"[", b"{a: ", b"- ", b"a:\n  "],
    max_depth: 300,
};

pub const RECIPIENTS: Format = Format {
    tokens: &[
        b"age1",
        b"AGE-SECRET-KEY-1",
        b"ssh-ed25519 ",
        b"ssh-rsa ",
        b"ecdsa-sha2-nistp256 ",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
        b"-----END OPENSSH PRIVATE KEY-----\n",
        b"AAAAC3NzaC1lZDI1NTE5AAAAI",
        b"AAAAB3NzaC1yc2EAAAADAQABAAABAQ",
        b"#",
        b"==",
    ],
    nest: &[],
    max_depth: 1,
};

pub const ARMOR: Format = Format {
    tokens: &[
        b"nlconf:v1 ",
        b"nlconf:v2 ",
        b"env=",
        b"path=",
        b"recipients=",
        b"%2",
        b"%ZZ",
        b"YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBD",
        b"LS0tIA==",
        b"=",
        b"==",
        b"age-encryption.org/v1\n",
    ],
    nest: &[],
    max_depth: 1,
};

pub const XML: Format = Format {
    tokens: &[
        b"</",
        b"/>",
        b"<?xml version='1.0'?>",
        b"<!--",
        b"-->",
        b"<![CDATA[",
        b"]]>",
        b"<!DOCTYPE x [<!ENTITY e \"&e;&e;\">]>",
        b"&amp;",
        b"&#",
        b"&#x",
        b"&#0;",
        b"&#x110000;",
        b"&unknown;",
        b";",
        b"=\"",
        b"<serverconf>",
        b"</serverconf>",
        b"<serverConf/>",
        b"xmlns:a=\"x\" ",
        b"a:b",
    ],
    nest: &[b"<a>", b"<serverconf>", b"<x y=\"1\">"],
    max_depth: 300,
};

pub const JSON: Format = Format {
    tokens: &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"null",
        b"true",
        b"1e999999",
        b"-0",
        b"\\u0000",
        b"\\ud800",
        b"\\uDFFF",
        b"\"schema\":",
        b"\"nlconf.state/v1\"",
        b"\"nlconf.plan/v1\"",
        b"\"credentials\":",
        b"\"pending\":",
        b"\"containers\":",
        b"\"steps\":",
    ],
    nest: &[b"[", b"{\"a\":"],
    max_depth: 300,
};

pub const TEMPLATE: Format = Format {
    tokens: &[
        b"{{ lines }}",
        b"{{ root }}",
        b"{{ nope }}",
        b"{{ 1 / 0 }}",
        b"{{ lines[99] }}",
        b"{{ root | nope }}",
        b"{{ nope() }}",
        b"{% for line in lines %}",
        b"{% endfor %}",
        b"{% if line.kind == \"open\" %}",
        b"{% else %}",
        b"{% endif %}",
        b"{% include \"partials/element.xml\" %}",
        b"{% include \"missing.xml\" %}",
        b"{% include \"config-instance.xml\" %}",
        b"{% extends \"partials/prologue.xml\" %}",
        b"{% extends \"missing.xml\" %}",
        b"{% block a %}",
        b"{% endblock %}",
        b"{% set x = 1 %}",
        b"{% raw %}",
        b"{% endraw %}",
        b"{#",
        b"#}",
        b"{%-",
        b"-%}",
        b"|",
        b"(",
        b")",
        b"<serverconf>",
        b"</serverconf>",
    ],
    nest: &[b"{% if true %}", b"{{ (", b"{% for line in lines %}"],
    max_depth: 300,
};
