//! Reminders (`remindAfter`): a finding still open, unchanged, is posted
//! again once per period after the message that announced it — "still open
//! for 8 days", with its original `since` — not as new.
//!
//! Period `n` starts `n × remindAfter` after the announcement (or after its
//! `since`, for a finding of a state written before announcements were
//! kept); the state remembers the last period reminded, so a run later in
//! the same period posts nothing, and a job that did not run for a few
//! periods reminds once, not once per missed period.

use super::super::state::OpenFinding;

fn time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// The period `posted` is due a reminder in at `now`, with the words that
/// say how long it has been open since `since`; `None` when not due (no
/// `remind_after`, the first period not over, already reminded in it).
pub(super) fn due(
    posted: &OpenFinding,
    since: &str,
    now: &str,
    remind_after: Option<chrono::Duration>,
) -> Option<(u32, String)> {
    let every = remind_after.filter(|d| d.num_seconds() > 0)?;
    let announced = posted
        .thread
        .as_ref()
        .map_or(posted.since.as_str(), |t| t.at.as_str());
    let (start, now) = (time(announced)?, time(now)?);
    let period = (now - start).num_seconds() / every.num_seconds();
    let period = u32::try_from(period).unwrap_or(u32::MAX);
    if period == 0 || period <= posted.reminded {
        return None;
    }
    Some((period, open_for(now - time(since).unwrap_or(start))))
}

/// "still open for 8 days" (whole days from one day on, else hours, else minutes).
pub(super) fn open_for(d: chrono::Duration) -> String {
    let (n, unit) = if d.num_days() >= 1 {
        (d.num_days(), "day")
    } else if d.num_hours() >= 1 {
        (d.num_hours(), "hour")
    } else {
        (d.num_minutes().max(0), "minute")
    };
    let s = if n == 1 { "" } else { "s" };
    format!("still open for {n} {unit}{s}")
}

#[cfg(test)]
mod tests {
    use super::super::super::state::Thread;
    use super::*;

    fn posted(at: Option<&str>, reminded: u32) -> OpenFinding {
        OpenFinding {
            since: "2026-11-28T10:00:00Z".into(),
            kustomization: Some("flux-system/apps".into()),
            object: "Deployment/apps/web".into(),
            drift: "modified".into(),
            severity: "edited".into(),
            content: "0a1b2c3d".into(),
            changes: vec![],
            paused: false,
            thread: at.map(|at| {
                std::sync::Arc::new(Thread {
                    event: "$e".into(),
                    at: at.into(),
                })
            }),
            reminded,
        }
    }

    const SINCE: &str = "2026-11-28T10:00:00Z";
    const ANNOUNCED: &str = "2026-11-29T02:00:00Z";

    #[test]
    fn due_once_a_period_after_the_announcement_with_the_time_since_the_drift() {
        let week = Some(chrono::Duration::days(7));
        let f = posted(Some(ANNOUNCED), 0);
        assert_eq!(due(&f, SINCE, "2026-12-06T01:59:59Z", week), None);
        assert_eq!(
            due(&f, SINCE, "2026-12-06T02:00:00Z", week),
            Some((1, "still open for 7 days".into()))
        );
        // Reminded in period 1: not again in it, again in period 2.
        let f = posted(Some(ANNOUNCED), 1);
        assert_eq!(due(&f, SINCE, "2026-12-12T23:00:00Z", week), None);
        assert_eq!(
            due(&f, SINCE, "2026-12-13T03:00:00Z", week),
            Some((2, "still open for 14 days".into()))
        );
        // A job that missed periods reminds once, in the latest.
        assert_eq!(
            due(&f, SINCE, "2026-12-28T03:00:00Z", week).map(|d| d.0),
            Some(4)
        );
    }

    #[test]
    fn off_without_remind_after_and_counted_from_since_without_an_announcement() {
        let f = posted(None, 0);
        assert_eq!(due(&f, SINCE, "2027-01-01T00:00:00Z", None), None);
        assert_eq!(
            due(
                &f,
                SINCE,
                "2026-11-29T10:00:00Z",
                Some(chrono::Duration::hours(12))
            ),
            Some((2, "still open for 1 day".into()))
        );
    }

    #[test]
    fn how_long_reads_in_days_hours_or_minutes() {
        assert_eq!(
            open_for(chrono::Duration::hours(200)),
            "still open for 8 days"
        );
        assert_eq!(
            open_for(chrono::Duration::hours(5)),
            "still open for 5 hours"
        );
        assert_eq!(
            open_for(chrono::Duration::minutes(1)),
            "still open for 1 minute"
        );
    }
}
