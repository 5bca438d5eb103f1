//! The current process id, cached (getpid is a system call on every klog call
//! otherwise), to tell objects and runtimes inherited through `fork` from the
//! process's own: their threads do not exist in the child.

use std::sync::atomic::{AtomicU32, Ordering};

/// This process's id; 0 until first asked, and again after [`after_fork_in_child`].
static PID: AtomicU32 = AtomicU32::new(0);

/// The current process id, cached until [`after_fork_in_child`] resets it.
pub fn current_pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// Forgets the cached id; a binding calls it in the child right after `fork`
/// (Python: `os.register_at_fork(after_in_child=...)`). Without it, objects and
/// runtimes inherited through fork are not told apart.
pub fn after_fork_in_child() {
    PID.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_id_is_the_process_id_and_survives_a_reset() {
        assert_eq!(current_pid(), std::process::id());
        after_fork_in_child();
        assert_eq!(current_pid(), std::process::id());
    }
}
