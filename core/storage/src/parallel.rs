//! A small scoped worker pool for per-partition work that mostly waits on the disk
//! (opening logs, fsyncs at close): many partitions' syncs are in flight at once, so
//! the filesystem can commit them together instead of one after another.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Workers used for per-partition disk work. Fsyncs wait on the disk, not the CPU, so
/// this is more than the core count.
pub(crate) const IO_THREADS: usize = 16;

/// Applies `f` to every item on up to `threads` threads; results come back in order.
/// A panic in `f` is propagated to the caller.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { return done };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => done.into_iter().for_each(|(i, r)| results[i] = Some(r)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results.into_iter().map(|r| r.expect("every item was processed")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_input_order() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(super::map(&items, 7, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&items[..1], 7, |i| i + 1), vec![1]);
        assert!(super::map(&items[..0], 7, |i| *i).is_empty());
    }
}
