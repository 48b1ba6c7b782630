//! File locks (`filelocks.img`): POSIX, flock, OFD locks and leases, each
//! found through an fd of the task that holds it.

use crate::chain::ImageStore;
use crate::error::Result;
use crate::proto::Message;

use crate::chain::decode_all;

/// A lock held on an open file, as `/proc/locks` lists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileLock {
    /// `POSIX` (fcntl/lockf), `FLOCK`, `OFDLCK` (open file description
    /// locks), `LEASE`, or the number CRIU stored.
    pub kind: String,
    /// `READ`, `WRITE`, `UNLCK`, for leases with ` (breaking)` when being
    /// broken; mandatory flock locks are `MAND` with `READ`, `WRITE` or `RW`.
    pub lock_type: String,
    /// The task that holds it (pid in the checkpoint).
    pub pid: i32,
    /// The descriptor of that task it was found through.
    pub fd: i32,
    /// First locked byte.
    pub start: i64,
    /// Number of bytes locked; 0 means to the end of the file (`EOF`).
    pub len: i64,
}

impl FileLock {
    /// The last locked byte, as `/proc/locks` prints it (`None`: `EOF`).
    pub fn end(&self) -> Option<i64> {
        (self.len != 0).then(|| self.start.saturating_add(self.len).saturating_sub(1))
    }
}

/// Every lock of `filelocks.img`, in image order (empty if there is none).
pub fn file_locks(store: &dyn ImageStore) -> Result<Vec<FileLock>> {
    let mut out = Vec::new();
    for message in decode_all(store, "filelocks.img")?.unwrap_or_default() {
        if let Message::FileLockEntry(lock) = message {
            out.push(FileLock {
                kind: lock_kind(lock.flag),
                lock_type: lock_type(lock.flag, lock.r#type),
                pid: lock.pid,
                fd: lock.fd,
                start: lock.start,
                len: lock.len,
            });
        }
    }
    Ok(out)
}

/// CRIU's `FL_*` kinds (`criu/include/file-lock.h`), named as `/proc/locks` does.
fn lock_kind(flag: u32) -> String {
    match flag {
        1 => "POSIX".into(),
        2 => "FLOCK".into(),
        4 => "OFDLCK".into(),
        8 => "LEASE".into(),
        other => other.to_string(),
    }
}

/// `F_RDLCK`/`F_WRLCK`/`F_UNLCK`; `LOCK_MAND` flock locks; `LEASE_BREAKING`.
fn lock_type(flag: u32, ty: u32) -> String {
    const LOCK_MAND: u32 = 32;
    const LEASE_BREAKING: u32 = 4;
    if flag == 2 && ty & LOCK_MAND != 0 {
        return match ty & 192 {
            64 => "MAND READ".into(),
            128 => "MAND WRITE".into(),
            192 => "MAND RW".into(),
            _ => "MAND".into(),
        };
    }
    let name = |t: u32| match t {
        0 => "READ".to_string(),
        1 => "WRITE".to_string(),
        2 => "UNLCK".to_string(),
        other => other.to_string(),
    };
    if flag == 8 && ty & LEASE_BREAKING != 0 {
        format!("{} (breaking)", name(ty & !LEASE_BREAKING))
    } else {
        name(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_proc_locks() {
        assert_eq!((lock_kind(1), lock_type(1, 1)), ("POSIX".to_string(), "WRITE".to_string()));
        assert_eq!(lock_type(2, 0), "READ");
        assert_eq!(lock_type(2, 32 | 192), "MAND RW");
        assert_eq!(lock_type(8, 1 | 4), "WRITE (breaking)");
        assert_eq!(lock_kind(99), "99");
        let lock = FileLock { kind: "POSIX".into(), lock_type: "WRITE".into(), pid: 1, fd: 3, start: 0, len: 100 };
        assert_eq!(lock.end(), Some(99));
        assert_eq!(FileLock { len: 0, ..lock }.end(), None);
    }
}
