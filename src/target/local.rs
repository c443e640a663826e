//! A container's conf folder on this machine, treated as hostile: whoever can write into it may
//! have planted symlinks, FIFOs or folders where nlconf expects its own files. The folder is
//! opened once (its path is the operator's, from the YAML) and everything inside it is reached
//! from that descriptor without following a symlink (`openat` with `O_NOFOLLOW`, `renameat`,
//! `linkat`, `unlinkat`), so that a root-run apply cannot be turned into a write, chmod or chown
//! elsewhere.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{BACKUP_DIR, LOCK_FILE, LockError, WORK_DIR};

/// The largest deployed file read: ACC's files are tens of KB.
pub const MAX_DEPLOYED_BYTES: u64 = 16 * 1024 * 1024;
/// The largest lock read (a lock holds a few lines of JSON).
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// An open conf folder.
pub struct ConfDir {
    dir: OwnedFd,
    path: PathBuf,
}

/// The conf folder itself (borrowed: no descriptor to duplicate per read) or its `.nlconf`.
enum Folder<'a> {
    Conf(std::os::fd::BorrowedFd<'a>),
    Work(OwnedFd),
}

impl AsFd for Folder<'_> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Folder::Conf(fd) => *fd,
            Folder::Work(fd) => fd.as_fd(),
        }
    }
}

/// Why a name in the conf folder is refused.
fn refused(path: &Path, what: &str) -> io::Error {
    io::Error::other(format!(
        "{} {what}: refused (whoever can write the conf folder could point nlconf elsewhere)",
        path.display()
    ))
}

fn read_only() -> OFlags {
    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC
}

impl ConfDir {
    pub fn open(path: &Path) -> io::Result<ConfDir> {
        let dir = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(ConfDir { dir, path: path.to_path_buf() })
    }

    /// The folder, created first when missing (a new container's): its path is the operator's.
    pub fn create(path: &Path) -> io::Result<ConfDir> {
        std::fs::create_dir_all(path)?;
        ConfDir::open(path)
    }

    /// A sub-folder nlconf owns (`.nlconf`, `.nlconf/backups`), created when asked; a symlink or
    /// anything but a folder there is refused. `None` when it does not exist and is not created.
    fn sub(&self, parent: &OwnedFd, name: &str, shown: &Path, create: bool) -> io::Result<Option<OwnedFd>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(parent, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                self.sub(parent, name, shown, false)
            }
            Err(rustix::io::Errno::NOENT) => Ok(None),
            // With O_DIRECTORY, Linux reports a symlink as "not a directory": look at what it is.
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink => {
                        Err(refused(shown, "is a symlink"))
                    }
                    _ => Err(refused(shown, "is not a folder")),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `.nlconf`, created when asked.
    fn work(&self, create: bool) -> io::Result<Option<OwnedFd>> {
        self.sub(&self.dir, WORK_DIR, &self.path.join(WORK_DIR), create)
    }

    /// The folder holding `rel` (`config-i.xml` or `.nlconf/state-i.json`) and its last name.
    fn parent<'a>(&self, rel: &'a str, create: bool) -> io::Result<Option<(Folder<'_>, &'a str)>> {
        match rel.split_once('/') {
            None => Ok(Some((Folder::Conf(self.dir.as_fd()), rel))),
            Some((WORK_DIR, name)) if !name.contains('/') => Ok(self.work(create)?.map(|fd| (Folder::Work(fd), name))),
            Some(_) => Err(io::Error::other(format!("{rel}: not a name nlconf writes"))),
        }
    }

    /// Reads a file as a regular file only, at most `limit` bytes: `Ok(None)` when it does not exist.
    pub fn read(&self, rel: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let shown = self.path.join(rel);
        let Some((dir, name)) = self.parent(rel, false)? else { return Ok(None) };
        let fd = match rustix::fs::openat(&dir, name, read_only(), Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => return Err(refused(&shown, "is a symlink")),
            Err(e) => return Err(e.into()),
        };
        read_regular(File::from(fd), &shown, limit).map(Some)
    }

    /// Writes `rel` atomically: a temporary file created exclusively in `.nlconf/`, synced, given
    /// the old file's mode and owner (new files: 0640 and the folder's owner), renamed over the old
    /// name (a symlink there is replaced, never followed), and the folder synced.
    pub fn write_atomic(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        let shown = self.path.join(rel);
        let work = self.work(true)?.ok_or_else(|| refused(&shown, "has no work folder"))?;
        let Some((dir, name)) = self.parent(rel, true)? else { return Err(refused(&shown, "has no folder")) };
        let (mode, uid, gid) = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink => {
                return Err(refused(&shown, "is a symlink"));
            }
            Ok(st) => (st.st_mode & 0o7777, st.st_uid, st.st_gid),
            Err(rustix::io::Errno::NOENT) => {
                let d = rustix::fs::fstat(&self.dir)?;
                (0o640, d.st_uid, d.st_gid)
            }
            Err(e) => return Err(e.into()),
        };
        // nlconf's own records (fingerprints of credentials) are for its user alone.
        let mode = if rel.starts_with(".nlconf/") { 0o600 } else { mode };
        let tmp = format!("tmp-{}-{}", name.replace('/', "_"), std::process::id());
        let created = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&work, tmp.as_str(), created, Mode::from_raw_mode(0o600))?;
        let result = (|| {
            let mut f = File::from(fd);
            f.write_all(bytes)?;
            f.sync_all()?;
            if let Err(e) = std::os::unix::fs::fchown(&f, Some(uid), Some(gid)) {
                // Only root may give a file away; an owner that is already right needs nothing.
                let me = f.metadata()?;
                if me.uid() != uid || me.gid() != gid {
                    return Err(e);
                }
            }
            rustix::fs::fchmod(f.as_fd(), Mode::from_raw_mode(mode))?;
            rustix::fs::renameat(&work, tmp.as_str(), &dir, name)?;
            rustix::fs::fsync(&dir)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&work, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// Copies `file` to `.nlconf/backups/<file>.<stamp>` and keeps the newest `keep` of its backups;
    /// only regular files named as nlconf names them are ever removed.
    pub fn backup(&self, file: &str, stamp: &str, keep: usize) -> io::Result<()> {
        let Some(content) = self.read(file, MAX_DEPLOYED_BYTES)? else { return Ok(()) };
        let mode = rustix::fs::statat(&self.dir, file, AtFlags::SYMLINK_NOFOLLOW)?.st_mode & 0o7777;
        let work = self.work(true)?.ok_or_else(|| refused(&self.path.join(WORK_DIR), "is missing"))?;
        let shown = self.path.join(BACKUP_DIR);
        let backups = self.sub(&work, "backups", &shown, true)?.ok_or_else(|| refused(&shown, "is missing"))?;
        let name = format!("{file}.{stamp}");
        let created = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut f = File::from(rustix::fs::openat(&backups, name.as_str(), created, Mode::from_raw_mode(mode))?);
        f.write_all(&content)?;
        let mut old: Vec<String> = Vec::new();
        for entry in rustix::fs::Dir::read_from(&backups)? {
            let entry = entry?;
            let Ok(n) = entry.file_name().to_str() else { continue };
            if is_backup_name(n, file) {
                old.push(n.to_string());
            }
        }
        old.sort();
        for n in &old[..old.len().saturating_sub(keep)] {
            let st = rustix::fs::statat(&backups, n.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile {
                rustix::fs::unlinkat(&backups, n.as_str(), AtFlags::empty())?;
            }
        }
        Ok(())
    }

    /// Takes the lock: written in full to a file created exclusively, then linked into place
    /// (`linkat` fails when the name exists, symlink or not), so whoever sees it sees its content.
    pub fn lock(&self, json: &[u8]) -> Result<(), LockError> {
        let work =
            self.work(true).map_err(LockError::Io)?.ok_or_else(|| LockError::Io(io::Error::other("no work folder")))?;
        let tmp = format!("lock-{}", std::process::id());
        let created = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&work, tmp.as_str(), created, Mode::from_raw_mode(0o600))
            .map_err(|e| LockError::Io(e.into()))?;
        let mut f = File::from(fd);
        f.write_all(json).and_then(|()| f.sync_all()).map_err(LockError::Io)?;
        let linked = rustix::fs::linkat(&work, tmp.as_str(), &work, "lock", AtFlags::empty());
        let _ = rustix::fs::unlinkat(&work, tmp.as_str(), AtFlags::empty());
        match linked {
            Ok(()) => {
                // Holding the lock, no other apply writes here: temporary files are leftovers.
                clean_leftovers(&work);
                Ok(())
            }
            Err(rustix::io::Errno::EXIST) => match self.read(LOCK_FILE, MAX_RECORD_BYTES) {
                Ok(held) => Err(LockError::Held(String::from_utf8_lossy(&held.unwrap_or_default()).into_owned())),
                Err(e) => Err(LockError::Io(e)),
            },
            Err(e) => Err(LockError::Io(e.into())),
        }
    }

    pub fn unlock(&self) -> io::Result<()> {
        let Some(work) = self.work(false)? else { return Ok(()) };
        match rustix::fs::unlinkat(&work, "lock", AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Reads an open file that must be a regular file, at most `limit` bytes.
fn read_regular(mut f: File, shown: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refused(shown, "is not a regular file"));
    }
    if meta.len() > limit {
        return Err(io::Error::other(format!(
            "{} is larger than {} MB: not a file nlconf wrote or reads",
            shown.display(),
            limit / (1024 * 1024)
        )));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    (&mut f).take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::other(format!("{} grew while it was read", shown.display())));
    }
    Ok(out)
}

/// `<file>.<stamp>` as `now_stamp` writes it: `20261126T225934.123456789Z`.
fn is_backup_name(name: &str, file: &str) -> bool {
    let Some(stamp) = name.strip_prefix(file).and_then(|r| r.strip_prefix('.')) else { return false };
    let b = stamp.as_bytes();
    b.len() == 26
        && b[8] == b'T'
        && b[15] == b'.'
        && b[25] == b'Z'
        && b.iter().enumerate().all(|(i, c)| matches!(i, 8 | 15 | 25) || c.is_ascii_digit())
}

/// Removes the temporary files an apply that died left in `.nlconf/`: regular files only.
fn clean_leftovers(work: &OwnedFd) {
    let Ok(dir) = rustix::fs::Dir::read_from(work) else { return };
    for entry in dir.flatten() {
        if entry.file_name().to_bytes().starts_with(b"tmp-") && entry.file_type() == rustix::fs::FileType::RegularFile {
            let _ = rustix::fs::unlinkat(work, entry.file_name(), AtFlags::empty());
        }
    }
}
