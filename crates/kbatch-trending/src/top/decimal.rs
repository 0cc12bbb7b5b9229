//! Exact numbers: comparing JSON number texts (filters), and exact decimal sums (`sum:PATH`).
//!
//! No float is involved anywhere: `0.1 + 0.2` sums to `0.3`, and `9007199254740993` stays
//! itself. A sum is an `i128` count of units of `10^-scale`, which holds 38 significant
//! digits; a value that does not fit (more digits, or more than 38 decimals after trailing
//! zeros are dropped) is not summable and makes its event `wrong_type`, and a sum that would
//! leave the `i128` range fails the report ([`crate::TopError::SumOverflow`]).

use std::cmp::Ordering;

/// Largest scale (digits after the point) a sum keeps.
pub const MAX_SCALE: u32 = 38;

/// An exact decimal: `units × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    /// The value in units of `10^-scale`.
    pub units: i128,
    /// Digits after the point (≤ [`MAX_SCALE`]).
    pub scale: u32,
}

/// `10^n` for n ≤ 38.
fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Decimal {
    /// The decimal a JSON number text denotes, keeping its written scale (`12.50` has scale
    /// 2; `1.5e3` is `1500`); `None` if it does not fit 38 digits.
    pub fn parse(text: &[u8]) -> Option<Decimal> {
        let n = Normal::of(text)?;
        // value = 0.DIGITS × 10^point; as units: DIGITS × 10^(point − len).
        let frac_written = frac_digits(text);
        let mut units: i128 = 0;
        for &d in &n.digits {
            units = units.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        if n.negative {
            units = -units;
        }
        let len = i64::try_from(n.digits.len()).ok()?;
        // Exponent of the last significant digit.
        let last = n.point - len;
        // The written scale (for `12.50`: 2) unless the exponent moved the point.
        let minimal = (-last).max(0);
        let want = if has_exponent(text) || i64::from(frac_written) > i64::from(MAX_SCALE) {
            minimal
        } else {
            i64::from(frac_written)
        };
        let shift = want + last; // ≥ 0: append this many zeros
        if shift < 0 || want > i64::from(MAX_SCALE) {
            // More decimals than 38, even after dropping trailing zeros.
            return None;
        }
        let shift = u32::try_from(shift).ok()?;
        units = units.checked_mul(pow10(shift)?)?;
        Some(Decimal {
            units,
            scale: u32::try_from(want).ok()?,
        })
    }

    /// This value at a larger scale, if it fits.
    pub fn rescale(self, scale: u32) -> Option<Decimal> {
        let up = scale.checked_sub(self.scale)?;
        Some(Decimal {
            units: self.units.checked_mul(pow10(up)?)?,
            scale,
        })
    }

    /// The exact sum, at the larger scale, if it fits.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.rescale(scale)?, other.rescale(scale)?);
        Some(Decimal {
            units: a.units.checked_add(b.units)?,
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.units);
        }
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.units < 0 { "-" } else { "" };
        write!(f, "{sign}{int}.{frac}")
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// By value (`1.0 == 1` in value; ties broken by scale so `Ord` agrees with `Eq`).
    fn cmp(&self, other: &Self) -> Ordering {
        let by_value = if self.scale == other.scale {
            self.units.cmp(&other.units)
        } else {
            cmp_numbers(self.to_string().as_bytes(), other.to_string().as_bytes())
        };
        by_value.then(self.scale.cmp(&other.scale))
    }
}

fn frac_digits(text: &[u8]) -> u32 {
    match text.iter().position(|&c| c == b'.') {
        None => 0,
        Some(dot) => text[dot + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count() as u32,
    }
}

fn has_exponent(text: &[u8]) -> bool {
    text.iter().any(|&c| c == b'e' || c == b'E')
}

/// A JSON number as sign, significant digits (no leading or trailing zeros) and the position
/// of the decimal point relative to them: value = 0.DIGITS × 10^point. Zero has no digits.
struct Normal {
    negative: bool,
    digits: Vec<u8>,
    point: i64,
}

/// Exponents are clamped here: far beyond any digit count a value can have, so comparisons
/// stay exact, and no arithmetic overflows.
const EXP_CLAMP: i64 = 1 << 40;

impl Normal {
    fn of(text: &[u8]) -> Option<Normal> {
        let mut i = 0;
        let negative = text.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        let int_start = i;
        while i < text.len() && text[i].is_ascii_digit() {
            i += 1;
        }
        let int = &text[int_start..i];
        if int.is_empty() {
            return None;
        }
        let mut frac: &[u8] = &[];
        if text.get(i) == Some(&b'.') {
            let s = i + 1;
            i = s;
            while i < text.len() && text[i].is_ascii_digit() {
                i += 1;
            }
            frac = &text[s..i];
            if frac.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if matches!(text.get(i), Some(b'e' | b'E')) {
            i += 1;
            let neg = match text.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let s = i;
            while i < text.len() && text[i].is_ascii_digit() {
                exp = (exp * 10 + i64::from(text[i] - b'0')).min(EXP_CLAMP);
                i += 1;
            }
            if i == s {
                return None;
            }
            if neg {
                exp = -exp;
            }
        }
        if i != text.len() {
            return None;
        }
        let mut all: Vec<u8> = Vec::with_capacity(int.len() + frac.len());
        all.extend_from_slice(int);
        all.extend_from_slice(frac);
        let lead = all.iter().take_while(|&&c| c == b'0').count();
        if lead == all.len() {
            return Some(Normal {
                negative: false,
                digits: Vec::new(),
                point: 0,
            });
        }
        let trail = all.iter().rev().take_while(|&&c| c == b'0').count();
        let point = int.len() as i64 - lead as i64 + exp;
        all.truncate(all.len() - trail);
        all.drain(..lead);
        Some(Normal {
            negative,
            digits: all,
            point,
        })
    }
}

/// Compare two JSON number texts by value, exactly (any length, any exponent); `None` if
/// either is not a number.
pub fn cmp_number_texts(a: &[u8], b: &[u8]) -> Option<Ordering> {
    // Most filters compare small integers (`quantity >= 2`): no normal form needed.
    if let (Some(x), Some(y)) = (small_integer(a), small_integer(b)) {
        return Some(x.cmp(&y));
    }
    let (x, y) = (Normal::of(a)?, Normal::of(b)?);
    Some(cmp_normal(&x, &y))
}

/// An integer of at most 18 digits (an optional `-`, then digits only), whose value an `i64`
/// holds exactly; `None` for anything else.
#[inline]
fn small_integer(t: &[u8]) -> Option<i64> {
    let (negative, digits) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some(if negative { -v } else { v })
}

fn cmp_numbers(a: &[u8], b: &[u8]) -> Ordering {
    cmp_number_texts(a, b).unwrap_or(Ordering::Equal)
}

fn cmp_normal(x: &Normal, y: &Normal) -> Ordering {
    let (dx, dy) = (&x.digits[..], &y.digits[..]);
    let sign = |n: &Normal, d: &[u8]| -> i8 {
        if d.is_empty() {
            0
        } else if n.negative {
            -1
        } else {
            1
        }
    };
    let (sx, sy) = (sign(x, dx), sign(y, dy));
    if sx != sy || sx == 0 {
        return sx.cmp(&sy);
    }
    // Same sign, both non-zero: magnitudes by point, then digits (no trailing zeros, so a
    // plain lexicographic compare of the digit strings is the compare of 0.DIGITS).
    let mag = x.point.cmp(&y.point).then_with(|| dx.cmp(dy));
    if sx < 0 {
        mag.reverse()
    } else {
        mag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_texts_compare_by_value() {
        use Ordering::*;
        let rows: &[(&str, &str, Ordering)] = &[
            ("1", "1.0", Equal),
            ("1", "10e-1", Equal),
            ("0", "-0", Equal),
            ("0.0", "0e10", Equal),
            ("-1", "1", Less),
            ("-2", "-1", Less),
            ("9007199254740993", "9007199254740992", Greater),
            ("1e400", "1e399", Greater),
            ("1e-400", "0", Greater),
            ("-1e-400", "0", Less),
            ("123.45", "123.5", Less),
            ("100", "99.999999999999999999", Greater),
            ("1E2", "100", Equal),
            ("0.001", "1e-3", Equal),
            ("12", "123", Less),
            ("-12", "-123", Greater),
        ];
        for (a, b, want) in rows {
            assert_eq!(
                cmp_number_texts(a.as_bytes(), b.as_bytes()),
                Some(*want),
                "{a} vs {b}"
            );
            assert_eq!(
                cmp_number_texts(b.as_bytes(), a.as_bytes()),
                Some(want.reverse()),
                "{b} vs {a}"
            );
        }
        assert_eq!(cmp_number_texts(b"abc", b"1"), None);
        assert_eq!(cmp_number_texts(b"1.", b"1"), None);
    }

    #[test]
    fn decimals_parse_exactly() {
        let d = |units: i128, scale: u32| Some(Decimal { units, scale });
        let rows: &[(&str, Option<Decimal>)] = &[
            ("0", d(0, 0)),
            ("-0", d(0, 0)),
            ("12", d(12, 0)),
            ("-12", d(-12, 0)),
            ("12.50", d(1250, 2)),
            ("0.1", d(1, 1)),
            ("1.5e3", d(1500, 0)),
            ("1e-3", d(1, 3)),
            ("2.50e1", d(25, 0)),
            ("0.000", d(0, 3)),
            ("170141183460469231731687303715884105727", d(i128::MAX, 0)),
            ("170141183460469231731687303715884105728", None),
            ("1e38", d(10i128.pow(38), 0)),
            ("1e39", None),
            ("1e-38", d(1, 38)),
            ("1e-39", None),
            ("0.10000000000000000000000000000000000000000", d(1, 1)),
            ("1e400", None),
        ];
        for (t, want) in rows {
            assert_eq!(Decimal::parse(t.as_bytes()), *want, "{t}");
        }
    }

    #[test]
    fn decimal_sums_are_exact_and_display_exactly() {
        let p = |t: &str| Decimal::parse(t.as_bytes()).unwrap();
        let s = p("0.1").checked_add(p("0.2")).unwrap();
        assert_eq!(s.to_string(), "0.3");
        let s = p("9007199254740993").checked_add(p("1")).unwrap();
        assert_eq!(s.to_string(), "9007199254740994");
        assert_eq!(p("-0.05").to_string(), "-0.05");
        assert_eq!(p("12.50").checked_add(p("1")).unwrap().to_string(), "13.50");
        assert_eq!(p(&i128::MAX.to_string()).checked_add(p("1")), None);
        assert_eq!(
            p("1e-38").checked_add(p("1e38")),
            None,
            "76 digits do not fit"
        );
        assert!(p("1.0") > p("0.99"));
        assert!(p("-1.5") < p("-1"));
        assert_eq!(
            p("1.0").cmp(&p("1")),
            Ordering::Greater,
            "same value, larger scale"
        );
    }
}
