//! A [`FileSystem`] with failpoints, for tests and the simulation.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileSystem, OpenMode};

/// Wraps another [`FileSystem`] and fails its operations on demand: the next fsyncs
/// (EIO), the next write (a prefix is written, then EIO), or every write, extension
/// and file creation while the disk is "full" (ENOSPC), every open while the process
/// is out of file descriptors (EMFILE). Failpoints are set and
/// cleared at run time; a failpoint aimed at a directory only hits paths under it.
#[derive(Debug)]
pub struct FaultyFs {
    inner: Arc<dyn FileSystem>,
    failpoints: Mutex<Failpoints>,
}

#[derive(Debug, Default)]
struct Failpoints {
    /// Fsyncs still to fail, and where.
    fsyncs: Option<(PathBuf, u32)>,
    /// The next write under this directory is cut short.
    short_write: Option<PathBuf>,
    disk_full: bool,
    /// Opens that still succeed before the process is out of descriptors (`None`: no limit).
    descriptors_left: Option<u32>,
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSPC)
}

fn emfile() -> io::Error {
    io::Error::from_raw_os_error(libc::EMFILE)
}

impl FaultyFs {
    /// `inner` without faults until a failpoint is set.
    pub fn new(inner: Arc<dyn FileSystem>) -> FaultyFs {
        FaultyFs { inner, failpoints: Mutex::default() }
    }

    /// The next `n` fsyncs (of files or directories) under `dir` fail with EIO.
    pub fn fail_next_fsyncs(&self, dir: &Path, n: u32) {
        self.failpoints.lock().fsyncs = (n > 0).then(|| (dir.to_path_buf(), n));
    }

    /// Fsync failures not yet fired.
    pub fn pending_fsync_failures(&self) -> u32 {
        self.failpoints.lock().fsyncs.as_ref().map_or(0, |(_, n)| *n)
    }

    /// The next write under `dir` writes only the first half of its bytes, then fails with EIO.
    pub fn short_next_write(&self, dir: &Path) {
        self.failpoints.lock().short_write = Some(dir.to_path_buf());
    }

    /// Whether a short write is set and has not fired yet.
    pub fn short_write_pending(&self) -> bool {
        self.failpoints.lock().short_write.is_some()
    }

    /// While `full`, every write, extension or allocation past a file's end, and file
    /// or directory creation fails with ENOSPC; cutting files, renames, removals and
    /// fsyncs still work.
    pub fn set_disk_full(&self, full: bool) {
        self.failpoints.lock().disk_full = full;
    }

    /// Whether the disk is "full".
    pub fn is_disk_full(&self) -> bool {
        self.failpoints.lock().disk_full
    }

    /// With `Some(n)`, the next `n` opens of a file or directory (also to fsync a
    /// directory) succeed and every later one fails with EMFILE, as when the process
    /// has used up its descriptors; files already open keep working. `None` lifts the
    /// limit.
    pub fn limit_descriptors(&self, left: Option<u32>) {
        self.failpoints.lock().descriptors_left = left;
    }

    /// Clears every failpoint.
    pub fn clear(&self) {
        *self.failpoints.lock() = Failpoints::default();
    }

    fn check_space(&self) -> io::Result<()> {
        if self.failpoints.lock().disk_full {
            return Err(enospc());
        }
        Ok(())
    }

    fn check_descriptors(&self) -> io::Result<()> {
        match &mut self.failpoints.lock().descriptors_left {
            Some(0) => Err(emfile()),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn check_fsync(&self, path: &Path) -> io::Result<()> {
        let mut fp = self.failpoints.lock();
        if let Some((dir, n)) = &mut fp.fsyncs {
            if path.starts_with(dir) {
                *n -= 1;
                if *n == 0 {
                    fp.fsyncs = None;
                }
                return Err(eio());
            }
        }
        Ok(())
    }

    /// Whether the write to `path` is the short one (then the failpoint is spent).
    fn take_short_write(&self, path: &Path) -> bool {
        let mut fp = self.failpoints.lock();
        if fp.short_write.as_ref().is_some_and(|dir| path.starts_with(dir)) {
            fp.short_write = None;
            return true;
        }
        false
    }
}

impl FileSystem for FaultyFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if !dir.is_dir() {
            self.check_space()?;
        }
        self.inner.create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        self.check_descriptors()?;
        if mode != OpenMode::Existing && !path.exists() {
            self.check_space()?;
        }
        self.inner.open(path, mode)
    }

    fn write_all_at(&self, path: &Path, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        self.check_space()?;
        if self.take_short_write(path) {
            self.inner.write_all_at(path, file, &buf[..buf.len() / 2], pos)?;
            return Err(eio());
        }
        self.inner.write_all_at(path, file, buf, pos)
    }

    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        if len > file.metadata()?.len() {
            self.check_space()?;
        }
        self.inner.set_len(path, file, len)
    }

    fn allocate(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        if len > file.metadata()?.len() {
            self.check_space()?;
        }
        self.inner.allocate(path, file, len)
    }

    fn sync_data(&self, path: &Path, file: &File) -> io::Result<()> {
        self.check_fsync(path)?;
        self.inner.sync_data(path, file)
    }

    fn sync_all(&self, path: &Path, file: &File) -> io::Result<()> {
        self.check_fsync(path)?;
        self.inner.sync_all(path, file)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check_descriptors()?;
        self.check_fsync(dir)?;
        self.inner.sync_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }

    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        self.inner.modified_ms(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;

    #[test]
    fn failpoints_fire_where_aimed_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new(Arc::new(RealFs));
        let a = dir.path().join("a");
        let file = fs.open(&a, OpenMode::Create).unwrap();

        fs.fail_next_fsyncs(&dir.path().join("elsewhere"), 1);
        fs.sync_data(&a, &file).unwrap();
        fs.fail_next_fsyncs(dir.path(), 2);
        assert_eq!(fs.sync_data(&a, &file).unwrap_err().raw_os_error(), Some(libc::EIO));
        assert!(fs.sync_dir(dir.path()).is_err());
        fs.sync_all(&a, &file).unwrap();
        assert_eq!(fs.pending_fsync_failures(), 0);

        fs.short_next_write(dir.path());
        assert!(fs.write_all_at(&a, &file, b"0123456789", 0).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"01234");
        fs.write_all_at(&a, &file, b"0123456789", 0).unwrap();

        fs.set_disk_full(true);
        let full = |e: io::Error| e.raw_os_error() == Some(libc::ENOSPC);
        assert!(full(fs.write_all_at(&a, &file, b"x", 10).unwrap_err()));
        assert!(full(fs.set_len(&a, &file, 100).unwrap_err()));
        assert!(full(fs.allocate(&a, &file, 100).unwrap_err()));
        fs.allocate(&a, &file, 10).unwrap();
        assert!(full(fs.open(&dir.path().join("b"), OpenMode::Create).unwrap_err()));
        fs.set_len(&a, &file, 4).unwrap();
        fs.open(&a, OpenMode::Existing).unwrap();
        fs.clear();
        fs.limit_descriptors(Some(1));
        let emfile = |e: io::Error| e.raw_os_error() == Some(libc::EMFILE);
        fs.open(&a, OpenMode::Existing).unwrap();
        assert!(emfile(fs.open(&a, OpenMode::Existing).unwrap_err()));
        assert!(emfile(fs.sync_dir(dir.path()).unwrap_err()));
        fs.write_all_at(&a, &file, b"x", 4).unwrap();
        fs.clear();
        fs.open(&a, OpenMode::Existing).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"0123x");
    }
}
