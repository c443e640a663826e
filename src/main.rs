// See Cargo.toml: allocation-heavy parsing across threads is twice as fast with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::ffi::{c_int, c_long};
use std::process::ExitCode;

fn main() -> ExitCode {
    never_purge();
    ExitCode::from(nlconf::app::run(std::env::args_os()))
}

// mimalloc's option API (mimalloc.h, in the v2 sources libmimalloc-sys vendors): `mi_option_e` is a
// C enum, and `mi_option_purge_delay` its 16th value, which libmimalloc-sys does not name.
const MI_OPTION_PURGE_DELAY: c_int = 15;
const MI_DEFAULT_PURGE_DELAY: c_long = 10;

unsafe extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// mimalloc gives memory a thread freed back to the system 10 ms later (a purge), and touching it
/// again costs a page fault and a cleared page. A run lasts a fraction of a second, and on a fleet it
/// purged 54 MB a run that it then faulted in again: kept, a 5,000-file plan spends 18-40% less
/// system time and 7-10% less wall time. (The peak memory is what it was.) Only mimalloc's default is
/// changed: `MIMALLOC_PURGE_DELAY` still sets it, and a value other than the default at this position
/// (another mimalloc's enum) leaves it alone.
fn never_purge() {
    // SAFETY: both functions are mimalloc's public API, callable at any time; they read and write
    // one integer option and take no pointers.
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}
