//! Writing files so that a reader sees either the old or the new content, never a mix.

use std::io::Write;
use std::path::Path;

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
