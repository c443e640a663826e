//! The command line (DESIGN §6). Clap types stay in this file: `parse` resolves them, once, into
//! the `Invocation` the rest of nlconf works with (where the deployed files are read from, the
//! review's format, whether to colour each stream), as ripgrep's low-level arguments become its
//! high-level ones.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::apply::Batch;
use crate::deployed::Source;
use crate::review::Options;
use crate::review::format::Format;
use crate::ui::Output;

#[derive(Parser, Debug)]
#[command(
    name = "nlconf",
    version,
    about = "GitOps for Adobe Campaign Classic instance configuration",
    long_about = "GitOps for Adobe Campaign Classic (v7) instance configuration.\n\n\
        Keeps each environment's config-<instance>.xml as YAML in git (secrets encrypted with age), validates it \
        against Adobe's documented schema, renders the file of every container, and shows what would change.",
    after_help = "Exit codes: 0 success (no changes), 2 changes found (with --detailed-exitcode), 1 any error."
)]
struct Cli {
    /// Work on the repository in DIR instead of the current directory
    #[arg(short = 'C', value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    /// age identity file or SSH private key to decrypt secrets (repeatable)
    #[arg(short = 'i', long = "identity", value_name = "FILE", global = true)]
    identity: Vec<PathBuf>,
    /// When to color the output
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true)]
    color: ColorArg,
    /// Print only errors and what the command is for (diff, plan: the totals line; JSON, markdown: whole)
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: CommandArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum CommandArgs {
    /// Check YAML, schema, templates and recipients (all environments by default)
    Validate {
        /// Environment to check (repeatable)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: Vec<String>,
    },
    /// Render config-<instance>.xml for the containers of an environment
    Render(RenderArgs),
    /// Show what would change on each container, secrets masked
    Diff(DiffCliArgs),
    /// Review what would change and write a plan file that apply carries out exactly
    Plan(PlanCliArgs),
    /// Carry out a reviewed plan: refuses if anything changed since; atomic, locked, reported
    Apply {
        /// The plan file written by `nlconf plan --out`
        #[arg(value_name = "PLANFILE")]
        plan: PathBuf,
        /// Remove a lock left by an apply that died (check the containers first)
        #[arg(long)]
        force_unlock: bool,
        /// Show what nlserver printed when a credential step fails (it may echo the secret; at a
        /// terminal only)
        #[arg(long)]
        show_credential_output: bool,
        /// Rolling apply: containers in batches of N (or P% of them), in plan order; a batch is
        /// finished before the next starts
        #[arg(long, value_name = "N|P%", value_parser = parse_batch)]
        batch: Option<Batch>,
        /// Stop starting containers once more than N have failed
        #[arg(long, value_name = "N", default_value_t = 0)]
        max_fail: usize,
        #[command(flatten)]
        hosts: HostArgs,
    },
    /// Adopt deployed config-<instance>.xml files into YAML
    Import {
        /// The environment (a folder under environments/)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: String,
        /// The instance to import (writes environments/<env>/<instance>.yaml)
        #[arg(long, value_name = "I")]
        instance: String,
        /// CONTAINER=FILE (a local copy of that container's file), or CONTAINER (read from the target)
        #[arg(value_name = "CONTAINER=FILE", required = true)]
        files: Vec<String>,
        /// Replace an existing environments/<env>/<instance>.yaml
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        hosts: HostArgs,
    },
    /// Record that what is deployed is what the YAML says (after import), without running nlserver
    Adopt {
        /// The environment (a folder under environments/)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: String,
        /// Only this instance (repeatable; default: all)
        #[arg(long, value_name = "I")]
        instance: Vec<String>,
        #[command(flatten)]
        hosts: HostArgs,
    },
    /// Show each final value and where it came from
    Explain(ExplainArgs),
    /// Manage age-encrypted secrets
    #[command(subcommand)]
    Secret(SecretArgs),
    /// The Adobe IMS technical account of each instance
    #[command(subcommand)]
    Ims(ImsArgs),
    /// Print the JSON Schema (draft-07) of environment files, for editors
    Schema,
    /// Write a new configuration repository that validates at once (it overwrites no file)
    Init {
        /// The folder to write it in, created when missing (default: the current one, or -C DIR)
        #[arg(value_name = "DIR")]
        folder: Option<PathBuf>,
    },
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output
    #[command(hide = true)]
    Man,
}

#[derive(Subcommand, Debug)]
enum SecretArgs {
    /// Encrypt a value (read from stdin, or --from-file) into the YAML at YAMLPATH
    Set {
        /// The environment (a folder under environments/)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: String,
        /// Dotted path from the environment's root, e.g. instances.mkt_prod.ims.clientSecret
        #[arg(value_name = "YAMLPATH")]
        path: String,
        /// Read the value from this file (its exact bytes) instead of stdin
        #[arg(long, value_name = "F")]
        from_file: Option<PathBuf>,
    },
    /// Re-encrypt secrets whose recipients changed, and bind unbound ones
    Rekey {
        /// Only this environment (default: all)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: Vec<String>,
        /// Say what would change, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Check that every secret decrypts, is bound to its place and encrypted to the current recipients
    Check {
        /// Only this environment (default: all)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: Vec<String>,
        /// Check places and recipients only, without an identity: decrypt nothing (for pre-commit
        /// hooks, run by people who hold the keys of some environments or none)
        #[arg(long)]
        no_decrypt: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ImsArgs {
    /// Per container: the deployed technical-account client ID, the YAML's, and the last apply
    Status {
        /// The environment (a folder under environments/)
        #[arg(short = 'e', long = "env", value_name = "ENV")]
        env: String,
        /// Read a local copy laid out as `render --out` writes it, instead of the target
        #[arg(long, value_name = "DIR")]
        deployed: Option<PathBuf>,
        #[command(flatten)]
        hosts: HostArgs,
    },
}

#[derive(Args, Debug)]
struct RenderArgs {
    /// The environment (a folder under environments/)
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    env: String,
    /// Write DIR/<container>/config-<instance>.xml
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Only this instance
    #[arg(long, value_name = "I")]
    instance: Option<String>,
    /// Only this container
    #[arg(long, value_name = "C")]
    container: Option<String>,
    /// Write decrypted secrets into the output (needs an identity)
    #[arg(long)]
    reveal: bool,
}

/// What every command that contacts hosts shares (DESIGN §7.1).
#[derive(Args, Debug, Clone, Copy)]
struct HostArgs {
    /// How many hosts to work on at once (reads, locks, writes, steps), whatever the number of cores
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLELISM, value_parser = clap::value_parser!(u16).range(1..=1000))]
    parallelism: u16,
}

/// Hosts worked on at once by default, as terraform's.
pub const DEFAULT_PARALLELISM: u16 = 10;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FormatArg {
    Text,
    Json,
    Markdown,
}

/// What `diff` and `plan` share.
#[derive(Args, Debug)]
struct ReviewCliArgs {
    /// The environment (a folder under environments/)
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    env: String,
    /// Compare with a local copy laid out as `render --out` writes it, instead of the target
    #[arg(long, value_name = "DIR")]
    deployed: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
    #[command(flatten)]
    hosts: HostArgs,
}

#[derive(Args, Debug)]
struct DiffCliArgs {
    #[command(flatten)]
    review: ReviewCliArgs,
    /// Compare with the files rendered from another git revision (no target access, no key)
    #[arg(long, value_name = "GITREV", conflicts_with = "deployed")]
    base: Option<String>,
    /// Compare canonical XML: ignore attribute order, quoting and whitespace
    #[arg(long)]
    semantic: bool,
    /// Lines of context around each change
    #[arg(short = 'U', value_name = "N", default_value_t = 3)]
    context: usize,
}

#[derive(Args, Debug)]
struct PlanCliArgs {
    #[command(flatten)]
    review: ReviewCliArgs,
    /// Where to write the plan file (JSON, no secrets: fit for a CI artifact)
    #[arg(long, value_name = "PLANFILE")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// The environment (a folder under environments/)
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    env: String,
    /// The instance (its name in `instances:`)
    #[arg(long, value_name = "I")]
    instance: String,
    /// A container (without it: the instance's own settings, and where containers differ)
    #[arg(long, value_name = "C")]
    container: Option<String>,
    /// Only values under this dotted path, e.g. serverconf.mta
    path: Option<String>,
}

/// Global options, resolved.
#[derive(Debug, Clone)]
pub struct Globals {
    pub dir: PathBuf,
    pub identities: Vec<PathBuf>,
    pub output: Output,
    /// Hosts worked on at once (`--parallelism`, on the commands that contact hosts).
    pub parallelism: usize,
}

fn parse_batch(s: &str) -> Result<Batch, String> {
    let wrong = || format!("expected a number of containers (e.g. 5) or a share of them (e.g. 25%), got `{s}`");
    match s.strip_suffix('%') {
        Some(p) => match p.parse::<u8>() {
            Ok(p) if (1..=100).contains(&p) => Ok(Batch::Percent(p)),
            _ => Err(wrong()),
        },
        None => match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Batch::Count(n)),
            _ => Err(wrong()),
        },
    }
}

/// What `diff` and `plan` review.
#[derive(Debug, Clone)]
pub struct ReviewArgs {
    pub env: String,
    /// Where the deployed files are read (`diff --base` reads none).
    pub source: Source,
    pub format: Format,
    pub detailed_exitcode: bool,
}

/// A command with its arguments resolved.
#[derive(Debug, Clone)]
pub enum Command {
    Validate {
        envs: Vec<String>,
    },
    Render {
        env: String,
        out: Option<PathBuf>,
        instance: Option<String>,
        container: Option<String>,
        reveal: bool,
    },
    Explain {
        env: String,
        instance: String,
        container: Option<String>,
        path: Option<String>,
    },
    Diff {
        review: ReviewArgs,
        base: Option<String>,
        options: Options,
    },
    Plan {
        review: ReviewArgs,
        out: PathBuf,
    },
    Apply {
        plan: PathBuf,
        force_unlock: bool,
        show_credential_output: bool,
        batch: Option<Batch>,
        max_fail: usize,
    },
    Import {
        env: String,
        instance: String,
        files: Vec<String>,
        force: bool,
    },
    Adopt {
        env: String,
        instances: Vec<String>,
    },
    SecretSet {
        env: String,
        path: String,
        from_file: Option<PathBuf>,
    },
    SecretRekey {
        envs: Vec<String>,
        dry_run: bool,
    },
    SecretCheck {
        envs: Vec<String>,
        /// Decrypt every secret; false (`--no-decrypt`): places and recipients only, no identity
        /// looked up.
        decrypt: bool,
    },
    ImsStatus {
        env: String,
        source: Source,
    },
    Schema,
    Init {
        /// Where the repository is written: DIR under -C DIR (as `git -C`), or -C DIR itself.
        dir: PathBuf,
        /// The identities named by `--identity`, whose public keys go into `recipients`.
        identities: Vec<PathBuf>,
    },
    /// Text printed as it is: a completion script, the man page.
    Print(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Invocation {
    pub globals: Globals,
    pub command: Command,
}

pub fn parse<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let hosts = match &cli.command {
        CommandArgs::Diff(a) => Some(a.review.hosts),
        CommandArgs::Plan(a) => Some(a.review.hosts),
        CommandArgs::Apply { hosts, .. }
        | CommandArgs::Import { hosts, .. }
        | CommandArgs::Adopt { hosts, .. }
        | CommandArgs::Ims(ImsArgs::Status { hosts, .. }) => Some(*hosts),
        _ => None,
    };
    let globals = Globals {
        dir: cli.dir.unwrap_or_else(|| PathBuf::from(".")),
        identities: cli.identity,
        output: output(cli.color, cli.quiet, cli.verbose),
        parallelism: usize::from(hosts.map_or(DEFAULT_PARALLELISM, |h| h.parallelism)),
    };
    let command = match cli.command {
        CommandArgs::Validate { env } => Command::Validate { envs: env },
        CommandArgs::Render(a) => {
            Command::Render { env: a.env, out: a.out, instance: a.instance, container: a.container, reveal: a.reveal }
        }
        CommandArgs::Diff(a) => Command::Diff {
            review: review(a.review),
            base: a.base,
            options: Options { semantic: a.semantic, context: a.context },
        },
        CommandArgs::Plan(a) => Command::Plan { review: review(a.review), out: a.out },
        CommandArgs::Apply { plan, force_unlock, show_credential_output, batch, max_fail, hosts: _ } => {
            Command::Apply { plan, force_unlock, show_credential_output, batch, max_fail }
        }
        CommandArgs::Import { env, instance, files, force, hosts: _ } => {
            Command::Import { env, instance, files, force }
        }
        CommandArgs::Adopt { env, instance, hosts: _ } => Command::Adopt { env, instances: instance },
        CommandArgs::Explain(a) => {
            Command::Explain { env: a.env, instance: a.instance, container: a.container, path: a.path }
        }
        CommandArgs::Secret(SecretArgs::Set { env, path, from_file }) => Command::SecretSet { env, path, from_file },
        CommandArgs::Secret(SecretArgs::Rekey { env, dry_run }) => Command::SecretRekey { envs: env, dry_run },
        CommandArgs::Secret(SecretArgs::Check { env, no_decrypt }) => {
            Command::SecretCheck { envs: env, decrypt: !no_decrypt }
        }
        CommandArgs::Ims(ImsArgs::Status { env, deployed, hosts: _ }) => {
            Command::ImsStatus { env, source: source(deployed) }
        }
        CommandArgs::Schema => Command::Schema,
        // (Not `dir`: that is -C's name, and clap would give it this argument's value.)
        CommandArgs::Init { folder } => Command::Init {
            dir: folder.map_or_else(|| globals.dir.clone(), |d| globals.dir.join(d)),
            identities: globals.identities.clone(),
        },
        CommandArgs::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "nlconf", &mut script);
            Command::Print(script)
        }
        CommandArgs::Man => {
            let mut page = Vec::new();
            // Rendering into memory cannot fail.
            let _ = clap_mangen::Man::new(command()).render(&mut page);
            Command::Print(page)
        }
    };
    Ok(Invocation { globals, command })
}

fn review(a: ReviewCliArgs) -> ReviewArgs {
    let format = match a.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
    };
    ReviewArgs { env: a.env, source: source(a.deployed), format, detailed_exitcode: a.detailed_exitcode }
}

fn source(deployed: Option<PathBuf>) -> Source {
    deployed.map_or(Source::Target, Source::Dir)
}

/// Colour on each stream: asked for, or (auto) a terminal without `NO_COLOR`.
fn output(color: ColorArg, quiet: bool, verbose: bool) -> Output {
    let wanted = |is_terminal: bool| match color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal,
    };
    Output {
        color_err: wanted(std::io::stderr().is_terminal()),
        color_out: wanted(std::io::stdout().is_terminal()),
        quiet,
        verbose,
    }
}

/// A usage error as text, without any argument that may be a secret: a value typed where it does
/// not belong (`secret set ... VALUE`) would otherwise be echoed into a terminal or a CI log. Options
/// and command names are shown (an option's `=value` part is not); anything else is named by its
/// place on the command line.
pub fn usage_error(e: &clap::Error, args: &[OsString]) -> String {
    let mut text = e.render().to_string();
    fn names(c: &clap::Command, out: &mut Vec<String>) {
        for sub in c.get_subcommands() {
            out.push(sub.get_name().to_string());
            names(sub, out);
        }
    }
    let mut known = Vec::new();
    names(&command(), &mut known);
    for (i, arg) in args.iter().enumerate().skip(1) {
        let arg = arg.to_string_lossy();
        let hidden = format!("(argument {i}, not shown: it may be a secret)");
        let value = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => value,
            _ if arg.starts_with('-') || known.iter().any(|n| *n == arg) => "",
            _ => arg.as_ref(),
        };
        if !value.is_empty() {
            let arg = value;
            // clap quotes what it echoes: 'VALUE', and '-- VALUE' in a tip.
            text = text.replace(&format!("'{arg}'"), &format!("'{hidden}'"));
            text = text.replace(&format!("'-- {arg}'"), &format!("'-- {hidden}'"));
        }
    }
    text
}

pub fn command() -> clap::Command {
    Cli::command()
}
