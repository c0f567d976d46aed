//! Text helpers with Python's semantics: `str.lower()`, code-point indexes,
//! `str.find`, and the `string()` rendering of values (Java's for doubles).
//!
//! ASCII gets allocation-free fast paths; anything else goes through the
//! exact (allocating) route, which is rare in security telemetry.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::value::Scalar;

/// Python's `str.lower()`: the full Unicode lowercase mapping, final sigma
/// included (Rust's `str::to_lowercase` implements the same rules).
pub fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Run `f` on `lower(s)`: in place for lowercase ASCII, on the stack for
/// short ASCII, allocating only for long or non-ASCII text.
pub fn with_lower<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    const STACK: usize = 256;
    if !s.is_ascii() || s.len() > STACK {
        return f(&lower(s));
    }
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(s);
    }
    let mut buf = [0u8; STACK];
    let out = &mut buf[..s.len()];
    out.copy_from_slice(s.as_bytes());
    out.make_ascii_lowercase();
    // Lowercased ASCII is still ASCII, so this never fails.
    f(std::str::from_utf8(out).unwrap_or_default())
}

/// `lower(a)` against `lower(b)`, without allocating when both are ASCII.
pub fn cmp_lower(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        // Byte order equals code-point order, so this is Python's str order.
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    lower(a).cmp(&lower(b))
}

/// `lower(a) == lower(b)`.
pub fn eq_lower(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    lower(a) == lower(b)
}

/// Length in code points (Python's `len`).
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Byte offset of code point `index` (clamped to the end).
pub fn byte_offset(s: &str, index: usize) -> usize {
    if s.is_ascii() {
        return index.min(s.len());
    }
    s.char_indices().nth(index).map_or(s.len(), |(i, _)| i)
}

/// Python's `s[start:end]` with code-point indexes that are already clamped
/// to `0..=len` and ordered.
pub fn slice_chars(s: &str, start: usize, end: usize) -> &str {
    let a = byte_offset(s, start);
    let b = byte_offset(s, end).max(a);
    &s[a..b]
}

/// Python's `haystack.find(needle, start)` in code points.
pub fn find_from(haystack: &str, needle: &str, start: usize) -> Option<usize> {
    if start > char_len(haystack) {
        return None;
    }
    let from = byte_offset(haystack, start);
    let at = haystack[from..].find(needle)?;
    Some(start + char_len(&haystack[from..from + at]))
}

/// Python's `haystack.rfind(needle)` in code points.
pub fn rfind(haystack: &str, needle: &str) -> Option<usize> {
    haystack.rfind(needle).map(|at| char_len(&haystack[..at]))
}

/// The interpreter's `to_string` (EQL's `string()`): `true`/`false`, Java's
/// rendering of doubles, decimal integers, strings unchanged. Null stays null.
pub fn to_text<'s>(value: &Scalar<'s>) -> Option<Cow<'s, str>> {
    Some(match value {
        Scalar::Null => return None,
        Scalar::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Scalar::Int(i) => Cow::Owned(i.to_string()),
        Scalar::Float(x) => Cow::Owned(java_double_text(*x)),
        Scalar::Str(s) => s.clone(),
    })
}

/// Java's `Double.toString` as the interpreter renders it: plain decimal
/// between 1e-3 and 1e7 (always with a fractional part), else
/// `d.dddE<exp>`; the digits are the shortest that round-trip.
pub fn java_double_text(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    let magnitude = value.abs();
    let (digits, exponent) = shortest_digits(magnitude);
    if !(1e-3..1e7).contains(&magnitude) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        return format!("{sign}{first}.{rest}E{exponent}");
    }
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let whole_len = exponent as usize + 1;
    if digits.len() <= whole_len {
        let zeros = "0".repeat(whole_len - digits.len());
        return format!("{sign}{digits}{zeros}.0");
    }
    let (whole, fraction) = digits.split_at(whole_len);
    format!("{sign}{whole}.{fraction}")
}

/// The shortest decimal digits that read back as `magnitude` (> 0), and the
/// decimal exponent of the first digit. Where two such digit strings are
/// equally close to the exact value, the even one, as Python's `repr` (and
/// Java) choose; Rust's formatter rounds such ties up.
fn shortest_digits(magnitude: f64) -> (String, i32) {
    let scientific = format!("{magnitude:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Two candidates can only both read back when they differ in about the
    // 16th digit, so shorter strings are never ties.
    if digits.len() < 15 {
        return (digits, exponent);
    }
    // A tie needs the exact value to end in a 5 just past the shortest
    // digits; a double's exact expansion has at most 767 significant digits.
    let exact = format!("{magnitude:.800e}");
    let exact_digits: String = exact
        .split('e')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let exact_digits = exact_digits.trim_end_matches('0');
    let n = digits.len();
    if exact_digits.len() != n + 1 || !exact_digits.ends_with('5') {
        return (digits, exponent);
    }
    let down = exact_digits[..n].to_string();
    let even = if down.ends_with(['0', '2', '4', '6', '8']) {
        down
    } else {
        increment(&down)
    };
    // Rounding up can carry into a new digit (999 -> 1000): not a same-length candidate.
    if even.len() == n && even != digits {
        let candidate = format!("{}.{}e{exponent}", &even[..1], &even[1..]);
        if candidate.parse::<f64>() == Ok(magnitude) {
            return (even.trim_end_matches('0').to_string(), exponent);
        }
    }
    (digits, exponent)
}

/// A decimal digit string plus one in its last place.
fn increment(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    format!("1{}", String::from_utf8(bytes).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_render_like_java() {
        assert_eq!(java_double_text(42.5), "42.5");
        assert_eq!(java_double_text(1.0), "1.0");
        assert_eq!(java_double_text(-0.0), "-0.0");
        assert_eq!(java_double_text(1e10), "1.0E10");
        assert_eq!(java_double_text(1.5e-5), "1.5E-5");
        assert_eq!(java_double_text(1234567.0), "1234567.0");
        assert_eq!(java_double_text(12345678.9), "1.23456789E7");
        assert_eq!(java_double_text(0.001), "0.001");
        assert_eq!(java_double_text(-1e300), "-1.0E300");
        assert_eq!(java_double_text(f64::NAN), "NaN");
        assert_eq!(java_double_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(java_double_text(100.0), "100.0");
        assert_eq!(java_double_text(1234567.5), "1234567.5");
        assert_eq!(java_double_text(0.00123), "0.00123");
        // Exactly halfway between two 17-digit candidates: the even one.
        assert_eq!(
            java_double_text(-1113178120592002.2),
            "-1.1131781205920022E15"
        );
        assert_eq!(
            java_double_text(233891771783429.62),
            "2.3389177178342962E14"
        );
    }

    #[test]
    fn code_point_search() {
        assert_eq!(find_from("añb añb", "b", 3), Some(6));
        assert_eq!(find_from("abc", "", 3), Some(3));
        assert_eq!(find_from("abc", "", 4), None);
        assert_eq!(rfind("añbañb", "b"), Some(5));
        assert_eq!(rfind("abc", ""), Some(3));
        assert_eq!(slice_chars("añbc", 1, 3), "ñb");
    }

    #[test]
    fn lowercase_like_python() {
        assert_eq!(lower("ΑΣ"), "ας");
        assert_eq!(lower("İ"), "i\u{307}");
        assert!(eq_lower("CMD.exe", "cmd.EXE"));
        assert_eq!(cmp_lower("B", "a"), Ordering::Greater);
    }
}
