//! `compare_scalars`: one comparison of two scalars under EQL's rules, as the
//! interpreter defines them.
//!
//! - numbers compare numerically (ints and floats exactly, NaN unordered);
//! - strings by code point, after `lower()` on both when case-insensitive;
//! - two booleans only for equality;
//! - a string against a number or boolean compares texts, for equality only
//!   (`"4624" == 4624`, a term query on a keyword field);
//! - anything else cannot be compared: false. Null on either side: null.

use std::cmp::Ordering;

use crate::node::Cmp;
use crate::text::{cmp_lower, eq_lower, to_text};
use crate::value::Scalar;

/// Compare two scalars; `None` when either is null.
pub fn compare_scalars(
    cmp: Cmp,
    left: &Scalar<'_>,
    right: &Scalar<'_>,
    case_insensitive: bool,
) -> Option<bool> {
    use Scalar::*;
    Some(match (left, right) {
        (Null, _) | (_, Null) => return None,
        (Int(_) | Float(_), Int(_) | Float(_)) => holds(cmp, number_order(left, right)),
        (Str(a), Str(b)) => {
            let order = if case_insensitive {
                cmp_lower(a, b)
            } else {
                a.as_ref().cmp(b.as_ref())
            };
            holds(cmp, Some(order))
        }
        (Bool(a), Bool(b)) => cmp == Cmp::Eq && a == b,
        (Str(_), _) | (_, Str(_)) => cmp == Cmp::Eq && texts_equal(left, right, case_insensitive),
        _ => false,
    })
}

/// Whether `order` (None = unordered, a NaN) satisfies `cmp`, as Python's
/// operators decide: NaN is unequal to everything and ordered with nothing.
pub(crate) fn holds(cmp: Cmp, order: Option<Ordering>) -> bool {
    match order {
        None => cmp == Cmp::Ne,
        Some(o) => match cmp {
            Cmp::Eq => o.is_eq(),
            Cmp::Ne => o.is_ne(),
            Cmp::Lt => o.is_lt(),
            Cmp::Le => o.is_le(),
            Cmp::Gt => o.is_gt(),
            Cmp::Ge => o.is_ge(),
        },
    }
}

fn texts_equal(left: &Scalar<'_>, right: &Scalar<'_>, case_insensitive: bool) -> bool {
    match (to_text(left), to_text(right)) {
        (Some(a), Some(b)) if case_insensitive => eq_lower(&a, &b),
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Exact numeric order of two numbers (`None` if either is NaN, or either
/// is not a number).
pub fn number_order(left: &Scalar<'_>, right: &Scalar<'_>) -> Option<Ordering> {
    match (left, right) {
        (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Scalar::Float(a), Scalar::Float(b)) => a.partial_cmp(b),
        (Scalar::Int(a), Scalar::Float(b)) => int_float_order(*a, *b),
        (Scalar::Float(a), Scalar::Int(b)) => int_float_order(*b, *a).map(Ordering::reverse),
        _ => None,
    }
}

/// Compare an integer with a float exactly, as Python does (no rounding of
/// the integer to a double).
fn int_float_order(int: i128, float: f64) -> Option<Ordering> {
    const TWO_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if float.is_nan() {
        return None;
    }
    let whole = float.trunc();
    if whole >= TWO_127 {
        return Some(Ordering::Less);
    }
    if whole < -TWO_127 {
        return Some(Ordering::Greater);
    }
    // `whole` is integral and in range, so the cast is exact.
    Some(
        int.cmp(&(whole as i128))
            .then_with(|| 0.0.partial_cmp(&(float - whole)).unwrap_or(Ordering::Equal)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::s;

    #[test]
    fn numbers_compare_exactly() {
        let big = Scalar::Int(i64::MAX as i128);
        let approx = Scalar::Float(i64::MAX as f64);
        assert_eq!(compare_scalars(Cmp::Lt, &big, &approx, false), Some(true));
        assert_eq!(
            compare_scalars(Cmp::Eq, &Scalar::Int(1), &Scalar::Float(1.0), false),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Gt, &Scalar::Int(1), &Scalar::Float(0.5), false),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Lt, &Scalar::Int(-1), &Scalar::Float(-0.5), false),
            Some(true)
        );
        let nan = Scalar::Float(f64::NAN);
        assert_eq!(compare_scalars(Cmp::Ne, &nan, &nan, false), Some(true));
        assert_eq!(
            compare_scalars(Cmp::Le, &nan, &Scalar::Int(1), false),
            Some(false)
        );
    }

    #[test]
    fn mixed_types() {
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("4624"), &Scalar::Int(4624), false),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("TRUE"), &Scalar::Bool(true), true),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("1.0e10"), &Scalar::Float(1e10), true),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Ne, &s("a"), &Scalar::Int(1), false),
            Some(false)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &Scalar::Bool(true), &Scalar::Int(1), false),
            Some(false)
        );
        assert_eq!(
            compare_scalars(Cmp::Ne, &Scalar::Bool(true), &Scalar::Bool(false), false),
            Some(false)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &Scalar::Null, &Scalar::Int(1), false),
            None
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("CMD.EXE"), &s("cmd.exe"), true),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("CMD.EXE"), &s("cmd.exe"), false),
            Some(false)
        );
        assert_eq!(
            compare_scalars(Cmp::Lt, &s("B"), &s("a"), false),
            Some(true)
        );
        assert_eq!(
            compare_scalars(Cmp::Lt, &s("B"), &s("a"), true),
            Some(false)
        );
        assert_eq!(
            compare_scalars(Cmp::Eq, &s("ÄSTHETIK"), &s("ästhetik"), true),
            Some(true)
        );
    }
}
