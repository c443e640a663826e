//! The clock, as nlconf writes it: RFC 3339 UTC timestamps and sortable backup stamps, without a
//! time crate (civil-from-days).

/// A sortable timestamp for backup names, to the nanosecond: `20261126T225934.123456789Z`.
pub fn now_stamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let base = now_utc().replace([':', '-'], "");
    format!("{}.{:09}Z", base.trim_end_matches('Z'), now.subsec_nanos())
}

/// Now, as an RFC 3339 UTC timestamp (no external time crate: civil-from-days).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// How long each step of a stage took, in order: shown with `-v`.
#[derive(Debug, Default)]
pub struct Timings(Vec<(String, std::time::Duration)>);

impl Timings {
    pub fn record(&mut self, what: impl Into<String>, started: std::time::Instant) {
        self.0.push((what.into(), started.elapsed()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, std::time::Duration)> {
        self.0.iter().map(|(w, d)| (w.as_str(), *d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
    }
}
