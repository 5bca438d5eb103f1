//! The file-system seam: every operation by which storage changes the disk goes
//! through a [`FileSystem`], passed in with the [`StorageEnv`], never read from a
//! global. Production uses [`RealFs`] (plain `std` calls); tests and the simulation
//! wrap it in a [`FaultyFs`] to fail fsyncs, cut writes short or fill the disk.
//!
//! Reads stay on the `std::fs::File` handles the seam opens, so a fetch can still
//! hand a file slice to `sendfile`. Operations on an open file also name its path,
//! which is what a failpoint is aimed at.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use klog_protocol::{Clock, SystemClock};

mod faulty;

pub use faulty::FaultyFs;

/// How [`FileSystem::open`] opens a file (always for reading and writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist.
    Existing,
    /// Created when missing; existing contents are kept.
    Create,
    /// Created when missing; existing contents are dropped.
    Replace,
}

/// The disk operations storage performs that change something.
pub trait FileSystem: fmt::Debug + Send + Sync + 'static {
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for reading and writing.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File>;
    /// Writes all of `buf` at `pos` of `file` (at `path`).
    fn write_all_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Sets the length of `file`: cuts it, or extends it sparsely with zeros.
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()>;
    /// Extends `file` to at least `len` bytes with blocks reserved on disk, so a
    /// memory mapping of it can never fault for want of space.
    fn allocate(&self, path: &Path, file: &File, len: u64) -> io::Result<()>;
    /// Makes the data of `file` durable (`fdatasync`).
    fn sync_data(&self, path: &Path, file: &File) -> io::Result<()>;
    /// Makes the data and metadata of `file` durable (`fsync`).
    fn sync_all(&self, path: &Path, file: &File) -> io::Result<()>;
    /// Makes the entries of a directory (new, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Last modification time of `path`, in milliseconds since the Unix epoch.
    fn modified_ms(&self, path: &Path) -> io::Result<i64>;
}

/// The operating system's file system: each operation is the plain `std` call.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        match mode {
            OpenMode::Existing => {}
            OpenMode::Create => {
                options.create(true).truncate(false);
            }
            OpenMode::Replace => {
                options.create(true).truncate(true);
            }
        }
        options.open(path)
    }

    fn write_all_at(&self, _path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        file.write_all_at(buf, pos)
    }

    fn set_len(&self, _path: &Path, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn allocate(&self, _path: &Path, file: &File, len: u64) -> io::Result<()> {
        allocate(file, len)
    }

    fn sync_data(&self, _path: &Path, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_all(&self, _path: &Path, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        let modified = std::fs::metadata(path)?.modified()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).map_err(io::Error::other)?;
        Ok(since.as_millis() as i64)
    }
}

/// Reserves blocks for the first `len` bytes of `file` (`posix_fallocate`), extending it.
/// Whether `e` says the process (EMFILE) or the system (ENFILE) ran out of file
/// descriptors: the operation never reached the disk and can be tried again.
pub fn is_descriptor_shortage(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn allocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::other("allocation beyond the largest file size"))?;
    // SAFETY: the descriptor belongs to `file`, which outlives the call.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        err => Err(io::Error::from_raw_os_error(err)),
    }
}

/// What storage reaches the outside world through: the disk and the wall clock.
#[derive(Debug, Clone)]
pub struct StorageEnv {
    /// Every mutating disk operation.
    pub fs: Arc<dyn FileSystem>,
    /// Wall-clock time where a caller does not pass it (segment ages, flush times).
    pub clock: Arc<dyn Clock>,
}

impl StorageEnv {
    /// The real disk and clock.
    pub fn real() -> StorageEnv {
        StorageEnv { fs: Arc::new(RealFs), clock: Arc::new(SystemClock) }
    }

    /// The clock's time, in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

impl Default for StorageEnv {
    fn default() -> Self {
        StorageEnv::real()
    }
}
