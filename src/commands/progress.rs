//! The progress of work on hosts, on stderr (DESIGN §7.1). On a terminal: a live line per host or
//! container in flight and an overall `done/total`, redrawn in place, with a permanent line for each
//! that finishes. Elsewhere (a CI log): with `plain`, a line per step; otherwise nothing (a review's
//! reads are not worth a line per host).

use std::io::Write;
use std::sync::Mutex;

use crate::support::progress::Progress;

pub struct Live {
    live: bool,
    plain: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    what: String,
    total: usize,
    done: usize,
    failed: usize,
    /// In flight, in the order they started: who, what it is doing, and whether it is worth a
    /// line of its own when it finishes (a container that ran steps, not a host that was read).
    running: Vec<(String, String, bool)>,
    /// Lines drawn below the permanent ones, to redraw.
    drawn: usize,
}

/// At most this many lines in flight are drawn (the rest are counted).
const MAX_LINES: usize = 20;

impl Live {
    /// `live` on a terminal that is not quieted; `plain` for a line per step elsewhere.
    pub fn new(live: bool, plain: bool) -> Live {
        Live { live, plain, state: Mutex::new(State::default()) }
    }

    fn redraw(&self, s: &mut State, permanent: Option<String>) {
        let mut err = std::io::stderr().lock();
        let mut text = String::new();
        if s.drawn > 0 {
            // To the start of the first line drawn, then clear to the end of the screen.
            text.push_str(&format!("\x1b[{}F\x1b[J", s.drawn));
        }
        if let Some(line) = permanent {
            text.push_str(&line);
            text.push('\n');
        }
        let shown = s.running.len().min(MAX_LINES);
        for (who, what, _) in &s.running[..shown] {
            text.push_str(&format!("  {who}: {what}\n"));
        }
        let more = s.running.len() - shown;
        let failed = if s.failed > 0 { format!(", {} failed", s.failed) } else { String::new() };
        let hidden = if more > 0 { format!(" (and {more} more in flight)") } else { String::new() };
        text.push_str(&format!("{} {}/{}{failed}{hidden}\n", s.what, s.done, s.total));
        s.drawn = shown + 1;
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

impl Progress for Live {
    fn begin(&self, what: &str, total: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.live && s.drawn > 0 {
            // An earlier phase's lines make way for this one's.
            let _ = write!(std::io::stderr().lock(), "\x1b[{}F\x1b[J", s.drawn);
        }
        *s = State { what: what.to_string(), total, ..State::default() };
        if self.live && total > 0 {
            self.redraw(&mut s, None);
        }
    }

    fn step(&self, who: &str, what: &str) {
        self.show(who, what, self.plain);
    }

    fn status(&self, who: &str, what: &str) {
        self.show(who, what, false);
    }

    fn finished(&self, who: &str, ok: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.done += 1;
        if !ok {
            s.failed += 1;
        }
        let stepped = s.running.iter().any(|(w, _, stepped)| w == who && *stepped);
        s.running.retain(|(w, _, _)| w != who);
        if self.live {
            let line = if ok { format!("{who}: done") } else { format!("{who}: failed") };
            self.redraw(&mut s, stepped.then_some(line));
        }
    }
}

impl Live {
    fn show(&self, who: &str, what: &str, plain: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.live {
            match s.running.iter_mut().find(|(w, _, _)| w == who) {
                Some(entry) => {
                    entry.1 = what.to_string();
                    entry.2 |= plain;
                }
                None => s.running.push((who.to_string(), what.to_string(), plain)),
            }
            self.redraw(&mut s, None);
        } else if plain {
            let _ = writeln!(std::io::stderr().lock(), "{who}: {what}");
        }
    }
}
