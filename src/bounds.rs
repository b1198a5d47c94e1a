//! The range every number setting may take, checked where settings are
//! validated, before anything runs.
//!
//! A timeout is added to a clock (`Instant + Duration`), a size limit gets
//! one more byte to detect "too large", a count sizes a buffer: at the edges
//! of `u64` each of those overflows and panics. A value outside its range is
//! therefore one error naming the setting (its key, flag and variable), the
//! range and an example — never a panic, never silently clamped.

use std::time::Duration;

/// The longest wait any setting may ask for: a day. A nightly job that waits
/// longer for one request has a typo, not a wish.
pub const MAX_SECONDS: u64 = 24 * 60 * 60;

/// A setting's value outside its range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: must be between {min} and {max}{unit}, got {value} (e.g. {example})")]
pub struct OutOfRange {
    /// The setting as a person writes it: the config key, with its flag and
    /// environment variable where it has them.
    pub key: &'static str,
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
        key: &'static str,
        example: &'static str,
    ) -> Result<u64, OutOfRange> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(OutOfRange {
                key,
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
    key: &'static str,
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
    key: &'static str,
    example: &'static str,
) -> Result<usize, OutOfRange> {
    // Every range of a count is far below usize::MAX on a 64-bit target.
    range
        .check(value, key, example)
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

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
