//! Scalar semantics of the 16 EQL functions and of arithmetic, mirroring
//! `function_semantics.py` (the executable spec, after the Elasticsearch
//! reference).
//!
//! Every function returns null when a required argument is null. A call that
//! Elasticsearch would reject at run time (a string passed to `add`, an
//! integer division by zero, an unparsable `number`) is an [`EvalError`],
//! which the evaluator turns into null. Integer results wrap to 64 bits, as
//! Java's `long` does; strings are indexed by code point.

use std::borrow::Cow;

use crate::cidr::{parse_block, parse_ip};
use crate::node::{Arith, Func};
use crate::text::{char_len, find_from, lower, rfind, slice_chars, to_text};
use crate::value::Scalar;

/// A value Elasticsearch would reject at run time; evaluates to null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalError;

type Result<'a> = std::result::Result<Scalar<'a>, EvalError>;

/// Apply `func` to evaluated scalar `args`. A count of arguments the
/// function does not take is an error (validated programs never pass one).
pub fn call<'a>(func: Func, args: &[Scalar<'a>], case_insensitive: bool) -> Result<'a> {
    let (min, max) = func.arity();
    if args.len() < min || max.is_some_and(|m| args.len() > m) {
        return Err(EvalError);
    }
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Scalar::Null);
    match func {
        Func::Add => arithmetic(Arith::Add, &arg(0), &arg(1)),
        Func::Subtract => arithmetic(Arith::Sub, &arg(0), &arg(1)),
        Func::Multiply => arithmetic(Arith::Mul, &arg(0), &arg(1)),
        Func::Divide => arithmetic(Arith::Div, &arg(0), &arg(1)),
        Func::Modulo => arithmetic(Arith::Mod, &arg(0), &arg(1)),
        Func::Between => between(args, case_insensitive),
        Func::CidrMatch => cidr_match(args),
        Func::Concat => concat(args),
        Func::EndsWith => affix(args, case_insensitive, Side::End),
        Func::StartsWith => affix(args, case_insensitive, Side::Start),
        Func::StringContains => string_contains(args, case_insensitive),
        Func::IndexOf => index_of(args, case_insensitive),
        Func::Length => match arg(0) {
            Scalar::Null => Ok(Scalar::Null),
            v => Ok(Scalar::Int(char_len(text(&v)?) as i128)),
        },
        Func::Number => number(&arg(0), args.get(1)),
        Func::String => Ok(to_text(&arg(0)).map_or(Scalar::Null, Scalar::Str)),
        Func::Substring => substring(args),
    }
}

fn text<'v>(value: &'v Scalar<'_>) -> std::result::Result<&'v str, EvalError> {
    value.as_str().ok_or(EvalError)
}

fn integer(value: &Scalar<'_>) -> std::result::Result<i128, EvalError> {
    match value {
        Scalar::Int(i) => Ok(*i),
        _ => Err(EvalError),
    }
}

fn any_null(args: &[Scalar<'_>]) -> bool {
    args.iter().any(Scalar::is_null)
}

/// Case-insensitive operations compare `lower()`ed texts, as the interpreter does.
fn fold(s: &str, case_insensitive: bool) -> Cow<'_, str> {
    if case_insensitive {
        lower(s)
    } else {
        Cow::Borrowed(s)
    }
}

// ---- arithmetic ----------------------------------------------------------------

/// Two's-complement wrap to 64 bits, as Java's `long` arithmetic does.
fn wrap_i64(value: i128) -> i128 {
    value as i64 as i128
}

/// `left <op> right`, or `-operand` for [`Arith::Neg`] (`right` unused).
pub fn arithmetic<'a>(op: Arith, left: &Scalar<'_>, right: &Scalar<'_>) -> Result<'a> {
    use Scalar::{Float, Int};
    if op == Arith::Neg {
        return match left {
            Scalar::Null => Ok(Scalar::Null),
            Int(a) => Ok(Int(wrap_i64(a.wrapping_neg()))),
            Float(a) => Ok(Float(-a)),
            _ => Err(EvalError),
        };
    }
    if left.is_null() || right.is_null() {
        return Ok(Scalar::Null);
    }
    if !left.is_number() || !right.is_number() {
        return Err(EvalError);
    }
    if let (Int(a), Int(b)) = (left, right) {
        return integer_arithmetic(op, *a, *b).map(Int);
    }
    let (a, b) = (as_f64(left), as_f64(right));
    Ok(Float(match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div if b == 0.0 => {
            if a == 0.0 || a.is_nan() {
                f64::NAN
            } else {
                f64::INFINITY.copysign(a) * 1f64.copysign(b)
            }
        }
        Arith::Div => a / b,
        // Java's `%` on doubles is C's fmod; Rust's `%` too (NaN for an
        // infinite dividend or a zero divisor).
        Arith::Mod => a % b,
        Arith::Neg => unreachable!("handled above"),
    }))
}

fn as_f64(value: &Scalar<'_>) -> f64 {
    match value {
        Scalar::Int(i) => *i as f64,
        Scalar::Float(x) => *x,
        _ => f64::NAN,
    }
}

fn integer_arithmetic(op: Arith, a: i128, b: i128) -> std::result::Result<i128, EvalError> {
    // Wrapping in 128 bits and then to 64 gives the exact result mod 2^64.
    Ok(match op {
        Arith::Add => wrap_i64(a.wrapping_add(b)),
        Arith::Sub => wrap_i64(a.wrapping_sub(b)),
        Arith::Mul => wrap_i64(a.wrapping_mul(b)),
        Arith::Div => java_divide(a, b)?,
        Arith::Mod => {
            if b == 0 {
                return Err(EvalError);
            }
            if let (Ok(x), Ok(y)) = (i64::try_from(a), i64::try_from(b)) {
                // Java's `%` (Long.MIN_VALUE % -1 is 0).
                return Ok(x.wrapping_rem(y).into());
            }
            // Outside the long range (u64 values): the interpreter's formula.
            let q = java_divide(a, b)?;
            b.checked_mul(q)
                .and_then(|p| a.checked_sub(p))
                .ok_or(EvalError)?
        }
        Arith::Neg => unreachable!("unary"),
    })
}

/// Integer division truncated toward zero, wrapped to 64 bits.
fn java_divide(a: i128, b: i128) -> std::result::Result<i128, EvalError> {
    if b == 0 {
        return Err(EvalError);
    }
    let quotient = a.unsigned_abs() / b.unsigned_abs();
    let signed = if (a >= 0) == (b >= 0) {
        quotient
    } else {
        quotient.wrapping_neg()
    };
    Ok(signed as u64 as i64 as i128)
}

// ---- strings ---------------------------------------------------------------------

/// Which end `startsWith`/`endsWith` test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Start,
    End,
}

fn affix<'a>(args: &[Scalar<'a>], ci: bool, side: Side) -> Result<'a> {
    if any_null(&args[..2]) {
        return Ok(Scalar::Null);
    }
    let (source, affix) = (text(&args[0])?, text(&args[1])?);
    if ci && source.is_ascii() && affix.is_ascii() {
        // ASCII lowering keeps byte lengths, so compare the matching window.
        let window = match side {
            Side::Start => source.get(..affix.len()),
            Side::End => source
                .len()
                .checked_sub(affix.len())
                .and_then(|start| source.get(start..)),
        };
        return Ok(Scalar::Bool(
            window.is_some_and(|w| w.eq_ignore_ascii_case(affix)),
        ));
    }
    let (source, affix) = (fold(source, ci), fold(affix, ci));
    Ok(Scalar::Bool(match side {
        Side::Start => source.starts_with(affix.as_ref()),
        Side::End => source.ends_with(affix.as_ref()),
    }))
}

fn string_contains<'a>(args: &[Scalar<'a>], ci: bool) -> Result<'a> {
    if any_null(&args[..2]) {
        return Ok(Scalar::Null);
    }
    let (source, needle) = (text(&args[0])?, text(&args[1])?);
    // Elasticsearch's rule: the empty string is never contained.
    if needle.is_empty() {
        return Ok(Scalar::Bool(false));
    }
    if ci && source.is_ascii() && needle.is_ascii() {
        let found = source
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
        return Ok(Scalar::Bool(found));
    }
    Ok(Scalar::Bool(
        fold(source, ci).contains(fold(needle, ci).as_ref()),
    ))
}

fn between<'a>(args: &[Scalar<'a>], ci: bool) -> Result<'a> {
    if any_null(args) {
        return Ok(Scalar::Null);
    }
    let (source, left, right) = (text(&args[0])?, text(&args[1])?, text(&args[2])?);
    let greedy = match args.get(3) {
        None => false,
        Some(Scalar::Bool(b)) => *b,
        Some(_) => return Err(EvalError),
    };
    // Positions are found in the folded text and applied to the original,
    // code point for code point, exactly as the interpreter does.
    let haystack = fold(source, ci);
    let Some(found) = find_from(&haystack, &fold(left, ci), 0) else {
        return Ok(Scalar::Str(Cow::Borrowed("")));
    };
    let start = found + char_len(left);
    let needle = fold(right, ci);
    let end = if greedy {
        rfind(&haystack, &needle)
    } else {
        find_from(&haystack, &needle, start)
    };
    match end {
        Some(end) if end >= start => Ok(borrowed_slice(&args[0], start, end)),
        _ => Ok(Scalar::Str(Cow::Borrowed(""))),
    }
}

/// `source[start:end]` (code points, clamped), borrowing when the source does.
fn borrowed_slice<'a>(source: &Scalar<'a>, start: usize, end: usize) -> Scalar<'a> {
    match source {
        Scalar::Str(Cow::Borrowed(s)) => Scalar::Str(Cow::Borrowed(slice_chars(s, start, end))),
        Scalar::Str(Cow::Owned(s)) => {
            Scalar::Str(Cow::Owned(slice_chars(s, start, end).to_string()))
        }
        _ => Scalar::Null,
    }
}

fn index_of<'a>(args: &[Scalar<'a>], ci: bool) -> Result<'a> {
    if any_null(args) {
        return Ok(Scalar::Null);
    }
    let (source, needle) = (text(&args[0])?, text(&args[1])?);
    let start = match args.get(2) {
        None => 0,
        Some(v) => integer(v)?.max(0),
    };
    if start > char_len(source) as i128 {
        return Ok(Scalar::Null);
    }
    let found = find_from(&fold(source, ci), &fold(needle, ci), start as usize);
    Ok(found.map_or(Scalar::Null, |i| Scalar::Int(i as i128)))
}

fn substring<'a>(args: &[Scalar<'a>]) -> Result<'a> {
    if args[0].is_null() || args[1].is_null() {
        return Ok(Scalar::Null);
    }
    let source = text(&args[0])?;
    let start = integer(&args[1])?;
    let end = match args.get(2) {
        None | Some(Scalar::Null) => None,
        Some(v) => Some(integer(v)?),
    };
    let len = char_len(source) as i128;
    // Python slice bounds: negative counts from the end; both clamp.
    let clamp = |i: i128| if i < 0 { (len + i).max(0) } else { i.min(len) } as usize;
    let (a, b) = (clamp(start), end.map_or(len as usize, clamp));
    Ok(borrowed_slice(&args[0], a, b.max(a)))
}

fn concat<'a>(args: &[Scalar<'a>]) -> Result<'a> {
    if any_null(args) {
        return Ok(Scalar::Null);
    }
    let mut out = String::new();
    for value in args {
        out.push_str(&to_text(value).unwrap_or_default());
    }
    Ok(Scalar::Str(Cow::Owned(out)))
}

// ---- number() ----------------------------------------------------------------------

/// `number(text[, base])`: base 10 reads integers and floats; `0x` selects
/// hexadecimal when the base is unset or 16; other bases read integers.
fn number<'a>(value: &Scalar<'_>, base: Option<&Scalar<'_>>) -> Result<'a> {
    if value.is_null() {
        return Ok(Scalar::Null);
    }
    let text = text(value)?.trim_matches(is_python_space);
    let base = match base {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Int(b)) if (2..=36).contains(b) => Some(*b as u32),
        Some(_) => return Err(EvalError),
    };
    let (sign, body) = match text.chars().next() {
        Some(c @ ('+' | '-')) => (&text[..1], &text[c.len_utf8()..]),
        _ => ("", text),
    };
    let hex_prefix = body.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"));
    if hex_prefix && matches!(base, None | Some(16)) {
        return parse_integer(sign, &body[2..], 16);
    }
    match base {
        None | Some(10) => {
            if is_decimal_integer(text) {
                return parse_integer("", text, 10);
            }
            if is_float_text(text) {
                return text
                    .parse::<f64>()
                    .map(Scalar::Float)
                    .map_err(|_| EvalError);
            }
            Err(EvalError)
        }
        Some(b) => parse_integer("", text, b),
    }
}

/// Python's `str.isspace` for `strip()`: Unicode whitespace plus the
/// information separators U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `[+-]?[0-9]+`
fn is_decimal_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?`
fn is_float_text(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// The interpreter's `_parse_int(sign + digits, base)`: one optional sign,
/// then at least one digit of the base.
fn parse_integer<'a>(sign: &str, text: &str, base: u32) -> Result<'a> {
    let (negative, digits) = match (sign, text.chars().next()) {
        ("-", _) => (true, text),
        ("+", _) => (false, text),
        (_, Some('-')) => (true, &text[1..]),
        (_, Some('+')) => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(EvalError);
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(base).ok_or(EvalError)? as i128;
        // Python's ints are unbounded; past i128 we give up (null).
        value = value
            .checked_mul(base as i128)
            .and_then(|v| v.checked_add(digit))
            .ok_or(EvalError)?;
    }
    Ok(Scalar::Int(if negative { -value } else { value }))
}

// ---- cidrMatch -------------------------------------------------------------------------

fn cidr_match<'a>(args: &[Scalar<'a>]) -> Result<'a> {
    if any_null(args) {
        return Ok(Scalar::Null);
    }
    // An address that is not a string or not an IP matches nothing.
    let Some(ip) = args[0].as_str().and_then(parse_ip) else {
        return Ok(Scalar::Bool(false));
    };
    // Blocks are read in order, so a bad block after a match is never seen.
    for block in &args[1..] {
        if parse_block(text(block)?).ok_or(EvalError)?.contains(ip) {
            return Ok(Scalar::Bool(true));
        }
    }
    Ok(Scalar::Bool(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::s;

    fn run<'a>(func: Func, args: &[Scalar<'a>]) -> Option<Scalar<'a>> {
        call(func, args, false).ok()
    }

    #[test]
    fn integer_arithmetic_wraps_like_java() {
        let max = Scalar::Int(i64::MAX as i128);
        assert_eq!(
            run(Func::Add, &[max.clone(), Scalar::Int(1)]),
            Some(Scalar::Int(i64::MIN as i128))
        );
        assert_eq!(
            run(Func::Divide, &[Scalar::Int(-7), Scalar::Int(2)]),
            Some(Scalar::Int(-3))
        );
        assert_eq!(
            run(Func::Modulo, &[Scalar::Int(-7), Scalar::Int(2)]),
            Some(Scalar::Int(-1))
        );
        assert_eq!(
            run(
                Func::Modulo,
                &[Scalar::Int(i64::MIN as i128), Scalar::Int(-1)]
            ),
            Some(Scalar::Int(0))
        );
        assert_eq!(run(Func::Divide, &[Scalar::Int(1), Scalar::Int(0)]), None);
        assert_eq!(
            run(Func::Divide, &[Scalar::Float(1.0), Scalar::Int(0)]),
            Some(Scalar::Float(f64::INFINITY))
        );
        assert_eq!(run(Func::Add, &[s("a"), Scalar::Int(1)]), None);
        assert_eq!(
            run(Func::Add, &[Scalar::Null, Scalar::Int(1)]),
            Some(Scalar::Null)
        );
        assert_eq!(
            arithmetic(Arith::Neg, &Scalar::Int(i64::MIN as i128), &Scalar::Null),
            Ok(Scalar::Int(i64::MIN as i128))
        );
    }

    #[test]
    fn strings_by_code_point() {
        assert_eq!(run(Func::Length, &[s("añb")]), Some(Scalar::Int(3)));
        assert_eq!(
            run(Func::Substring, &[s("hello"), Scalar::Int(-3)]),
            Some(s("llo"))
        );
        assert_eq!(
            run(
                Func::Substring,
                &[s("hello"), Scalar::Int(1), Scalar::Int(-1)]
            ),
            Some(s("ell"))
        );
        assert_eq!(
            run(
                Func::Substring,
                &[s("hello"), Scalar::Int(4), Scalar::Int(1)]
            ),
            Some(s(""))
        );
        assert_eq!(
            run(Func::IndexOf, &[s("abcabc"), s("c"), Scalar::Int(3)]),
            Some(Scalar::Int(5))
        );
        assert_eq!(
            run(Func::IndexOf, &[s("abc"), s("c"), Scalar::Int(4)]),
            Some(Scalar::Null)
        );
        assert_eq!(
            run(Func::Between, &[s("a[x]b[y]"), s("["), s("]")]),
            Some(s("x"))
        );
        assert_eq!(
            run(
                Func::Between,
                &[s("a[x]b[y]"), s("["), s("]"), Scalar::Bool(true)]
            ),
            Some(s("x]b[y"))
        );
        assert_eq!(
            call(Func::Between, &[s("A[X]"), s("a["), s("]")], true),
            Ok(s("X"))
        );
        assert_eq!(
            call(Func::StartsWith, &[s("CMD.exe"), s("cmd")], true),
            Ok(Scalar::Bool(true))
        );
        assert_eq!(
            call(Func::EndsWith, &[s("CMD.exe"), s("EXE")], true),
            Ok(Scalar::Bool(true))
        );
        assert_eq!(
            run(Func::StringContains, &[s("abc"), s("")]),
            Some(Scalar::Bool(false))
        );
        assert_eq!(
            run(
                Func::Concat,
                &[
                    s("a"),
                    Scalar::Int(1),
                    Scalar::Float(2.5),
                    Scalar::Bool(true)
                ]
            ),
            Some(s("a12.5true"))
        );
        assert_eq!(run(Func::String, &[Scalar::Float(1e10)]), Some(s("1.0E10")));
    }

    #[test]
    fn wrong_argument_counts_are_errors_not_panics() {
        for (_, func) in Func::ALL {
            assert_eq!(call(func, &[], false), Err(EvalError), "{func:?}");
        }
        assert_eq!(run(Func::Length, &[s("a"), s("b")]), None);
    }

    #[test]
    fn number_parsing() {
        assert_eq!(run(Func::Number, &[s(" 42 ")]), Some(Scalar::Int(42)));
        assert_eq!(run(Func::Number, &[s("-0x1F")]), Some(Scalar::Int(-31)));
        assert_eq!(
            run(Func::Number, &[s("1.5e3")]),
            Some(Scalar::Float(1500.0))
        );
        assert_eq!(run(Func::Number, &[s(".5")]), Some(Scalar::Float(0.5)));
        assert_eq!(
            run(Func::Number, &[s("ff"), Scalar::Int(16)]),
            Some(Scalar::Int(255))
        );
        assert_eq!(run(Func::Number, &[s("0x"), Scalar::Null]), None);
        assert_eq!(run(Func::Number, &[s("12"), Scalar::Int(1)]), None);
        assert_eq!(run(Func::Number, &[s("1e")]), None);
        assert_eq!(
            run(Func::Number, &[s("z"), Scalar::Int(36)]),
            Some(Scalar::Int(35))
        );
    }

    #[test]
    fn cidr_match_reads_blocks_in_order() {
        assert_eq!(
            run(Func::CidrMatch, &[s("10.1.2.3"), s("10.0.0.0/8"), s("bad")]),
            Some(Scalar::Bool(true))
        );
        assert_eq!(
            run(Func::CidrMatch, &[s("11.1.2.3"), s("10.0.0.0/8"), s("bad")]),
            None
        );
        assert_eq!(
            run(Func::CidrMatch, &[s("not an ip"), s("bad")]),
            Some(Scalar::Bool(false))
        );
        assert_eq!(
            run(Func::CidrMatch, &[Scalar::Int(1), s("10.0.0.0/8")]),
            Some(Scalar::Bool(false))
        );
    }
}
