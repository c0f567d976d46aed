//! The threads an engine's parallel work runs on.
//!
//! Decoding a file's next chunks, selecting a batch's candidates and
//! evaluating its rules all run on one pool per worker count, kept for the
//! life of the process. Two reasons:
//!
//! - The stages overlap (the caller decodes the next chunks while the bus
//!   evaluates this batch). With threads of their own, each would ask for
//!   every core at once, and twice as many threads as cores would take
//!   turns, evicting each other's caches. On one pool, a core that
//!   finishes one stage's work picks up the other's.
//! - Threads started for every batch would allocate on fresh allocator
//!   heaps, so each batch's columns would come from new pages, paid for in
//!   page faults; a kept thread reuses what it freed.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::ThreadPool;

/// The pool of `threads` threads, made on first use; `None` when the
/// system would not start them (the work then runs on the caller).
///
/// A pool belongs to the process that made it: a child forked from that
/// process (Python's `multiprocessing` does so by default) inherits the
/// map but none of the threads, and would wait forever for them. It gets
/// pools of its own.
pub fn pool(threads: usize) -> Option<Arc<ThreadPool>> {
    type Pools = HashMap<usize, (u32, Arc<ThreadPool>)>;
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let here = std::process::id();
    match pools.get(&threads) {
        Some((owner, found)) if *owner == here => return Some(found.clone()),
        // The parent's pool: its threads are not in this process, so
        // dropping it (which signals them) is left undone.
        Some(_) => {
            if let Some((_, inherited)) = pools.remove(&threads) {
                std::mem::forget(inherited);
            }
        }
        None => {}
    }
    let made = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("kestrel-{threads}.{i}"))
        .build()
        .ok()?;
    let made = Arc::new(made);
    pools.insert(threads, (here, made.clone()));
    Some(made)
}

/// The pool for work on `n` threads; none for one thread, which is the
/// caller's own.
fn parallel(n: usize) -> Option<Arc<ThreadPool>> {
    if n > 1 {
        pool(n)
    } else {
        None
    }
}

/// `job(0)`, ..., `job(n - 1)` on the pool of `n` threads, in parallel as
/// far as its threads are free; the results in that order. Work the jobs
/// start with rayon (`rayon::scope`, parallel iterators) stays on the same
/// pool. `Err` carries the message of a job that panicked.
pub fn each<R: Send>(n: usize, job: impl Fn(usize) -> R + Sync) -> Result<Vec<R>, String> {
    // An indexed parallel iterator keeps the results in order.
    let run = || (0..n).into_par_iter().map(&job).collect();
    let ran = match parallel(n) {
        Some(pool) => catch_unwind(AssertUnwindSafe(|| pool.install(run))),
        None => catch_unwind(AssertUnwindSafe(|| (0..n).map(&job).collect())),
    };
    ran.map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a worker thread panicked".into())
    })
}

/// `work()` on the pool of `n` threads (so that what it starts with
/// `rayon::scope` runs there), or on the caller when `n` is 1.
pub fn within<R: Send>(n: usize, work: impl FnOnce() -> R + Send) -> R {
    match parallel(n) {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_once_and_results_keep_their_order() {
        let out = each(3, |i| i * 10).unwrap();
        assert_eq!(out, [0, 10, 20]);
        assert_eq!(each(1, |i| i + 7).unwrap(), [7]);
        assert!(each(0, |i| i).unwrap().is_empty());
    }

    #[test]
    fn a_panicking_job_is_an_error_not_a_crash() {
        let err = each(2, |i| {
            if i == 1 {
                panic!("job {i} failed");
            }
            i
        })
        .unwrap_err();
        assert!(err.contains("job 1 failed"), "{err}");
        // The pool survives it.
        assert_eq!(each(2, |i| i).unwrap(), [0, 1]);
    }

    #[test]
    fn one_pool_per_thread_count() {
        let a = pool(2).unwrap();
        assert!(Arc::ptr_eq(&a, &pool(2).unwrap()));
        assert_eq!(a.current_num_threads(), 2);
    }
}
