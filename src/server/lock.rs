//! One server per database: an exclusive lock on `<db>.lock`, held for the life of the process.
//! The lock is the operating system's (`flock`), so it is released when the process ends, even
//! by SIGKILL; the file keeps the holder's pid, host and start time so a second server can say
//! who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock on a database, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
    /// The lock file's path.
    pub path: PathBuf,
}

/// The lock file of the database at `db`: `<db>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The machine's host name.
pub fn host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".into())
}

/// Take the lock of the database at `db`, or say which process holds it.
pub fn acquire(db: &Path) -> anyhow::Result<DbLock> {
    let path = lock_path(db);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open the lock file: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another process" } else { holder };
            anyhow::bail!(
                "{}: the database is in use by another catchment serve ({holder}; lock file {}); \
                 two servers on one database would run each other's jobs twice and delete \
                 each other's work: stop that server first, or give this one another --db",
                db.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            anyhow::bail!("{}: cannot lock the database: {e}", path.display())
        }
    }
    let started = super::store::now();
    let info = format!("pid {} on {}, started at Unix time {started}", std::process::id(), host());
    let written = file
        .set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(info.as_bytes()))
        .and_then(|_| file.flush());
    if let Err(e) = written {
        tracing::warn!(lock = %path.display(), "cannot record the holder in the lock file: {e}");
    }
    Ok(DbLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let first = acquire(&db).unwrap();
        let e = acquire(&db).unwrap_err().to_string();
        assert!(e.contains(&db.display().to_string()), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        acquire(&db).unwrap();
    }
}
