//! Reading input files safely, and writing files so that a reader sees either the old or the new
//! content, never a mix.
//!
//! Every file nlconf reads goes through [`read_input`]: a regular file only (a FIFO or a device is
//! refused before it is opened, and opened non-blocking in case it was swapped in), at most `limit`
//! bytes, and for the repository's files, nowhere outside the repository. In a pull-request review
//! the repository is the pull request's: a symlink to `/proc/self/environ` rendered into the review
//! would publish the runner's tokens.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Writes `bytes` to a temporary file in the same folder, syncs it, and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// Like `write_atomic`, the file created with `mode` (before any byte is written).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_bytes(path, bytes, mode, true)
}

/// Like `write_atomic_mode` without syncing to disk: for output folders (`render --out`) that are
/// not what a server runs on, where a thousand fsyncs would be most of the time.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_bytes(path, bytes, mode, false)
}

/// Like `write_replace`, the content written by `write` (through a buffer) as it is produced.
pub fn write_replace_with(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_file(path, mode, false, |f| {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
        write(&mut w)?;
        w.flush()
    })
}

fn write_bytes(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> std::io::Result<()> {
    write_file(path, mode, durable, |f| f.write_all(bytes))
}

fn write_file(
    path: &Path,
    mode: u32,
    durable: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nlconf-tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        write(&mut f)?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable && let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why an input file was not read. [`InputError::reason`] reads well after the file's name.
#[derive(Debug)]
pub enum InputError {
    /// Nothing at that path.
    NotFound,
    /// A symlink whose target does not exist.
    Dangling,
    /// Not a regular file.
    NotAFile(FileKind),
    /// More than the limit: `size` is what was found (at least).
    TooLarge { size: u64, limit: u64 },
    /// A repository file (or `folder`) whose real path is outside the repository; `link` when the
    /// path itself is the symlink (otherwise a folder on the way is).
    Outside { link: bool, folder: bool },
    /// A repository file whose real path is inside `.git/` (which can hold the CI's credentials).
    InGitFolder,
    /// The operating system refused (permissions, a symlink loop, ...).
    Unreadable(std::io::Error),
}

/// What a path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Folder,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    /// `None` for a regular file.
    fn of(t: std::fs::FileType) -> Option<FileKind> {
        use std::os::unix::fs::FileTypeExt;
        let kind = if t.is_file() {
            return None;
        } else if t.is_dir() {
            FileKind::Folder
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_socket() {
            FileKind::Socket
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Other
        };
        Some(kind)
    }
}

/// Why a repository file that leads elsewhere is refused, said once for every message.
const OUTSIDE_WHY: &str = "refused (a pull request could read the runner's files with it)";

impl InputError {
    /// What is wrong with the file, as the end of a sentence that starts with its name.
    pub fn reason(&self) -> String {
        match self {
            InputError::NotFound => "does not exist".into(),
            InputError::Dangling => "is a symlink to a file that does not exist".into(),
            InputError::NotAFile(FileKind::Folder) => "is a folder, not a file".into(),
            InputError::NotAFile(kind) => {
                let what = match kind {
                    FileKind::Fifo => "a FIFO (named pipe)",
                    FileKind::Socket => "a socket",
                    FileKind::CharDevice => "a character device",
                    FileKind::BlockDevice => "a block device",
                    FileKind::Folder | FileKind::Other => "a special file",
                };
                format!("is {what}, not a regular file")
            }
            InputError::TooLarge { limit, .. } => format!("is larger than {}", size_text(*limit)),
            InputError::Outside { link: true, folder } => {
                let what = if *folder { "folder" } else { "file" };
                format!("is a symlink to a {what} outside the repository: {OUTSIDE_WHY}")
            }
            InputError::Outside { link: false, .. } => {
                format!("leads outside the repository through a symlinked folder: {OUTSIDE_WHY}")
            }
            InputError::InGitFolder => "leads into the .git folder: refused (it can hold the CI's credentials)".into(),
            InputError::Unreadable(e) => format!("cannot read: {}", crate::support::yaml::io_reason(e)),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for InputError {}

/// A limit in words: "8 MB", "64 KB".
pub fn size_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * KB;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= KB && bytes.is_multiple_of(KB) {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The real path of `path`, which must be inside `root` (a canonical path) and not in its `.git`
/// folder. A symlink to another file of the repository is fine.
pub fn resolve_within(path: &Path, root: &Path) -> Result<PathBuf, InputError> {
    let link = std::fs::symlink_metadata(path).map_err(not_found_or)?;
    let real = std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if link.file_type().is_symlink() => InputError::Dangling,
        _ => not_found_or(e),
    })?;
    let Ok(inside) = real.strip_prefix(root) else {
        return Err(InputError::Outside { link: link.file_type().is_symlink(), folder: real.is_dir() });
    };
    if inside.components().any(|c| c == Component::Normal(".git".as_ref())) {
        return Err(InputError::InGitFolder);
    }
    Ok(real)
}

fn not_found_or(e: std::io::Error) -> InputError {
    if e.kind() == std::io::ErrorKind::NotFound { InputError::NotFound } else { InputError::Unreadable(e) }
}

/// Opens `path` for reading: a regular file of at most `limit` bytes, inside `within` (the
/// canonical repository root) when given. Returns the file and its size.
pub fn open_input(path: &Path, limit: u64, within: Option<&Path>) -> Result<(std::fs::File, u64), InputError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let real = match within {
        Some(root) => resolve_within(path, root)?,
        None => path.to_path_buf(),
    };
    // Looked at before opening: opening a FIFO waits for a writer, opening a device may do anything.
    let before = std::fs::metadata(&real).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if std::fs::symlink_metadata(&real).is_ok() => InputError::Dangling,
        _ => not_found_or(e),
    })?;
    check_kind_and_size(&before, limit)?;
    // Non-blocking and checked again after opening, in case something else was put there meanwhile;
    // the real path of a repository file has no symlink left to follow.
    let mut flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    if within.is_some() {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(&real).map_err(not_found_or)?;
    let meta = file.metadata().map_err(InputError::Unreadable)?;
    check_kind_and_size(&meta, limit)?;
    if (meta.dev(), meta.ino()) != (before.dev(), before.ino()) {
        return Err(InputError::Unreadable(std::io::Error::other("the file changed while it was opened")));
    }
    Ok((file, meta.len()))
}

fn check_kind_and_size(meta: &std::fs::Metadata, limit: u64) -> Result<(), InputError> {
    if let Some(kind) = FileKind::of(meta.file_type()) {
        return Err(InputError::NotAFile(kind));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { size: meta.len(), limit });
    }
    Ok(())
}

/// Reads a whole input file (see [`open_input`]), never more than `limit` bytes even if it grows.
pub fn read_input(path: &Path, limit: u64, within: Option<&Path>) -> Result<Vec<u8>, InputError> {
    let (file, size) = open_input(path, limit, within)?;
    // Sized up front (one spare byte to see the end), so that a key file is not copied by growing.
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0).saturating_add(1));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(InputError::Unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
