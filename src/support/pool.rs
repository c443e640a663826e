//! Work on hosts a bounded number at once (DESIGN §7.1). Waiting on a network is not CPU work: how
//! many hosts are worked on at once is the user's `--parallelism`, not the number of cores (rayon's
//! pool, which stays for CPU work, is sized by the cores).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` on every item, at most `at_once` at a time, each on its own thread; the results in the
/// items' order. A panic in `work` is the caller's, once every thread has stopped.
pub fn bounded<T: Sync, R: Send>(items: &[T], at_once: usize, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = at_once.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = work(item);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
    });
    // Every index below the length was taken by a thread, which stored its result before taking
    // the next: a slot is empty only if its thread panicked, and the scope re-raised that above.
    slots.into_iter().filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_and_bounds_the_threads() {
        let items: Vec<usize> = (0..50).collect();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let out = bounded(&items, 4, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 4);
        assert!(most.load(Ordering::SeqCst) > 1, "the work ran on several threads");
    }

    #[test]
    fn no_items_and_one_at_a_time() {
        assert!(bounded(&[] as &[u8], 10, |_| 1).is_empty());
        assert_eq!(bounded(&[1, 2, 3], 1, |i| i + 1), vec![2, 3, 4]);
    }
}
