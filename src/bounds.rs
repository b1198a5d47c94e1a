//! The range every number setting may take, checked where settings are
//! validated, before anything runs.
//!
//! A timeout is added to a clock (`Instant + Duration`), a size limit gets
//! one more byte to detect "too large", a count sizes a buffer: at the edges
//! of `u64` each of those overflows and panics. A value outside its range is
//! therefore one error naming the setting (its key, flag and variable), the
//! range and an example — never a panic, never silently clamped.

use std::borrow::Cow;
use std::time::Duration;

/// The longest wait any setting may ask for: a day. A nightly job that waits
/// longer for one request has a typo, not a wish.
pub const MAX_SECONDS: u64 = 24 * 60 * 60;

/// A setting's value outside its range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: must be between {min} and {max}{unit}, got {value} (e.g. {example})")]
pub struct OutOfRange {
    /// The setting as the person wrote it: the config key (with the file),
    /// the flag or the environment variable.
    pub key: Cow<'static, str>,
    pub value: u64,
    pub min: u64,
    pub max: u64,
    /// ` seconds`, ` bytes`, or empty for a count.
    pub unit: &'static str,
    /// A good value, as written in the config file.
    pub example: &'static str,
}

/// A range of a setting, inclusive at both ends.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: u64,
    pub max: u64,
    pub unit: &'static str,
}

impl Range {
    /// Seconds to wait: from one second to [`MAX_SECONDS`].
    pub const SECONDS: Range = Range {
        min: 1,
        max: MAX_SECONDS,
        unit: " seconds",
    };

    /// Sources fetched at once (`sources.concurrency`): each holds a git
    /// thread or a download.
    pub const SOURCES: Range = Range::count(1, 64);

    /// A count from `min` to `max`.
    pub const fn count(min: u64, max: u64) -> Range {
        Range { min, max, unit: "" }
    }

    /// A size in bytes from one byte to `max`.
    pub const fn bytes(max: u64) -> Range {
        Range {
            min: 1,
            max,
            unit: " bytes",
        }
    }

    /// `value` when it is within the range, else the error naming `key`.
    pub fn check(
        self,
        value: u64,
        key: impl Into<Cow<'static, str>>,
        example: &'static str,
    ) -> Result<u64, OutOfRange> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(OutOfRange {
                key: key.into(),
                value,
                min: self.min,
                max: self.max,
                unit: self.unit,
                example,
            })
        }
    }
}

/// A timeout of `value` seconds, within [`Range::SECONDS`].
pub fn seconds(
    value: u64,
    key: impl Into<Cow<'static, str>>,
    example: &'static str,
) -> Result<Duration, OutOfRange> {
    Range::SECONDS
        .check(value, key, example)
        .map(Duration::from_secs)
}

/// A count within `range`, as a `usize`.
pub fn count(
    value: u64,
    range: Range,
    key: impl Into<Cow<'static, str>>,
    example: &'static str,
) -> Result<usize, OutOfRange> {
    // Every range of a count is far below usize::MAX on a 64-bit target.
    range
        .check(value, key, example)
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// A duration written as people write one — `7d`, `12h`, `1w`, `90m`,
/// `1d12h`, or ISO 8601 `P7D` — in whole seconds; a day is 24 hours, a
/// week 7 days. `None` when it is not a duration, or is in months or years
/// (of no fixed length). A plain number of seconds is refused: `7` is more
/// likely a typo of `7d` than a wish for seven seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let span: jiff::Span = text.trim().parse().ok()?;
    let seconds = span
        .total(jiff::SpanTotal::from(jiff::Unit::Second).days_are_24_hours())
        .ok()?;
    (seconds >= 0.0 && seconds.fract() == 0.0 && seconds <= u64::MAX as f64)
        .then_some(seconds as u64)
}

/// A duration setting (`7d`) within `range` (in seconds). `Err(None)`:
/// not a duration at all (the caller names the key and an example).
pub fn duration(
    text: &str,
    range: Range,
    key: impl Into<Cow<'static, str>>,
    example: &'static str,
) -> Result<Duration, Option<OutOfRange>> {
    let seconds = parse_duration(text).ok_or(None)?;
    range
        .check(seconds, key, example)
        .map(Duration::from_secs)
        .map_err(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_people_write_them_and_vague_ones_refused() {
        for (text, seconds) in [
            ("7d", 604_800),
            ("1w", 604_800),
            ("12h", 43_200),
            ("1d12h", 129_600),
            ("90m", 5_400),
            ("P7D", 604_800),
            (" 7 days ", 604_800),
        ] {
            assert_eq!(parse_duration(text), Some(seconds), "{text}");
        }
        for text in ["", "7", "7x", "1 month", "P1Y", "-7d", "1.5s", "7d foo"] {
            assert_eq!(parse_duration(text), None, "{text}");
        }
        let week = Range {
            min: 3_600,
            max: 365 * 86_400,
            unit: " seconds",
        };
        let key = "notify.matrix.remindAfter";
        assert_eq!(
            duration("7d", week, key, "`remindAfter: 7d`"),
            Ok(Duration::from_secs(604_800))
        );
        assert_eq!(duration("7x", week, key, "`remindAfter: 7d`"), Err(None));
        assert_eq!(
            duration("30m", week, key, "`remindAfter: 7d`")
                .unwrap_err()
                .unwrap()
                .to_string(),
            "notify.matrix.remindAfter: must be between 3600 and 31536000 seconds, got 1800 (e.g. `remindAfter: 7d`)"
        );
    }

    #[test]
    fn the_ends_of_a_range_are_in_it_and_their_neighbours_are_not() {
        let key = "requestTimeout";
        assert_eq!(
            seconds(1, key, "`requestTimeout: 30`"),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(
            seconds(MAX_SECONDS, key, "`requestTimeout: 30`"),
            Ok(Duration::from_secs(86_400))
        );
        for bad in [0, MAX_SECONDS + 1, i64::MAX as u64, u64::MAX] {
            let err = seconds(bad, key, "`requestTimeout: 30`").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "requestTimeout: must be between 1 and 86400 seconds, got {bad} (e.g. `requestTimeout: 30`)"
                )
            );
        }
        assert_eq!(
            count(0, Range::count(1, 256), "concurrency", "`concurrency: 8`")
                .unwrap_err()
                .to_string(),
            "concurrency: must be between 1 and 256, got 0 (e.g. `concurrency: 8`)"
        );
        assert_eq!(
            Range::bytes(10)
                .check(11, "limits.fileBytes", "`fileBytes: 5`")
                .unwrap_err()
                .to_string(),
            "limits.fileBytes: must be between 1 and 10 bytes, got 11 (e.g. `fileBytes: 5`)"
        );
    }
}

/// Settings that went through validation: only the config layers make one
/// (`config::Config::load`), so a stage given a `Validated<T>` knows each
/// value is in its range. Here, in a leaf, so that the pipeline below the
/// config can take one.
#[derive(Clone, Debug)]
pub struct Validated<T>(T);

impl<T> Validated<T> {
    /// Marks `value` validated: for the config layers, once each stage's
    /// part has been checked.
    pub(crate) fn new(value: T) -> Self {
        Validated(value)
    }

    /// The settings, to be changed by a caller that knows better (a test,
    /// `render --kustomization-file`).
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The settings with changes that keep every value in its range (a
    /// fleet member's connection and cache directory, the one file
    /// `render --kustomization-file` renders).
    pub fn map(self, change: impl FnOnce(T) -> T) -> Self {
        Validated(change(self.0))
    }
}

impl<T> std::ops::Deref for Validated<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
