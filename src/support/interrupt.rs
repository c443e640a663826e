//! Ctrl-C and SIGTERM (a CI job cancelled) while nlconf works on hosts: the first asks nlconf to
//! stop starting work, finish the steps in flight, release its locks and close its connections;
//! a second ends it at once (exit 130), leaving the locks for `apply --force-unlock`.
//!
//! The programs nlconf runs (ssh, nlserver) are started in their own process group, so that the
//! terminal's Ctrl-C reaches nlconf alone and a step in flight is not cut in the middle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Once};

static REQUESTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));
static WATCH: Once = Once::new();

/// Starts catching SIGINT and SIGTERM (once per process).
pub fn watch() {
    WATCH.call_once(|| {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The second signal ends the process; the first only sets the flag. Registered in this
            // order, the shutdown sees the flag as the first signal left it.
            let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&REQUESTED));
            let _ = signal_hook::flag::register(signal, Arc::clone(&REQUESTED));
        }
    });
}

/// Whether the user asked nlconf to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
