//! Kubernetes resource quantities, compared by value.
//!
//! The API server stores a quantity in canonical form (`1000m` → `1`,
//! `0.5Gi` → `512Mi`: k8s.io/apimachinery `pkg/api/resource`), so git and live
//! can spell the same amount differently. A quantity here is an exact count of
//! nano-units, which is finer than any canonical form the server produces.

use serde_json::Value;

/// An amount, in units of 10⁻⁹.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i128);

impl Quantity {
    /// Parses a quantity string (`500m`, `1.5Gi`, `2e3`, `-1`); `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(digits_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        // mantissa × 10^exp10 × 2^exp2, all exact.
        let mut mantissa: i128 = 0;
        for c in whole.chars().chain(fraction.chars()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(c.to_digit(10)? as u8))?;
        }
        let mut exp10 = -(fraction.len() as i32) + 9;
        let mut exp2 = 0u32;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            s if s.starts_with(['e', 'E']) => exp10 += s[1..].parse::<i32>().ok()?,
            _ => return None,
        }
        let mut value = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
        if exp10 >= 0 {
            value = value.checked_mul(10i128.checked_pow(exp10 as u32)?)?;
        } else {
            // Below a nano-unit: round toward zero, as the server would round up;
            // equality at this precision is all that matters here.
            value /= 10i128.checked_pow(exp10.unsigned_abs())?;
        }
        Some(Self(sign * value))
    }

    /// Reads a quantity from a JSON string or number (`cpu: 1` in YAML is a number).
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Self::parse(s),
            Value::Number(n) => Self::parse(&n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_amounts_in_different_spellings() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("0.5Gi"), q("512Mi"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("2e3"), q("2k"));
        assert_eq!(q("1.5G"), q("1500M"));
        assert_ne!(q("1Gi"), q("1G"));
        assert_eq!(q("-1"), Quantity(-1_000_000_000));
    }

    #[test]
    fn rejects_what_is_not_a_quantity() {
        for bad in ["", "abc", "1.2.3", "1X", "m", "."] {
            assert_eq!(Quantity::parse(bad), None, "{bad}");
        }
    }
}
