//! Host API v1 as plain Rust functions over an [`EventBatch`].
//!
//! Field reads return `None` for a missing or null value. String operations
//! work in place on the batch's arena and return a three-valued result: a
//! missing field is null, not false, so `not` and `!=` keep Elasticsearch's
//! null semantics. A multi-valued (array) field matches if any element does,
//! as Elasticsearch matches documents.

use kestrel_event::bytes::same_bytes;
use kestrel_event::{EventBatch, Span, ValueRef};
use kestrel_schema::FieldId;

use crate::constants::{Literal, StrSet};
use crate::fold::eq_folded;
use crate::glob::GlobSet;

/// Three-valued truth as host functions return it across the ABI.
pub type Tri = i32;
pub const TRUE: Tri = 1;
pub const FALSE: Tri = 0;
pub const NULL: Tri = -1;

#[inline]
fn tri(b: bool) -> Tri {
    b as Tri
}

#[inline]
fn first<'a>(batch: &'a EventBatch, items: &'a [kestrel_event::Value]) -> ValueRef<'a> {
    items
        .iter()
        .map(|v| batch.element(v))
        .find(|v| *v != ValueRef::Null)
        .unwrap_or(ValueRef::Null)
}

#[inline]
pub fn event_get_i64(batch: &EventBatch, ev: usize, field: FieldId) -> Option<i64> {
    match batch.value(ev, field) {
        ValueRef::I64(x) => Some(x),
        ValueRef::U64(x) => i64::try_from(x).ok(),
        ValueRef::F64(x) if x.is_finite() => Some(x as i64),
        ValueRef::List(items) => match first(batch, items) {
            ValueRef::I64(x) => Some(x),
            ValueRef::U64(x) => i64::try_from(x).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[inline]
pub fn event_get_u64(batch: &EventBatch, ev: usize, field: FieldId) -> Option<u64> {
    match batch.value(ev, field) {
        ValueRef::U64(x) => Some(x),
        ValueRef::I64(x) => u64::try_from(x).ok(),
        ValueRef::List(items) => match first(batch, items) {
            ValueRef::U64(x) => Some(x),
            ValueRef::I64(x) => u64::try_from(x).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[inline]
pub fn event_get_f64(batch: &EventBatch, ev: usize, field: FieldId) -> Option<f64> {
    match batch.value(ev, field) {
        ValueRef::F64(x) => Some(x),
        ValueRef::I64(x) => Some(x as f64),
        ValueRef::U64(x) => Some(x as f64),
        ValueRef::List(items) => match first(batch, items) {
            ValueRef::F64(x) => Some(x),
            ValueRef::I64(x) => Some(x as f64),
            ValueRef::U64(x) => Some(x as f64),
            _ => None,
        },
        _ => None,
    }
}

#[inline]
pub fn event_get_bool(batch: &EventBatch, ev: usize, field: FieldId) -> Option<bool> {
    match batch.value(ev, field) {
        ValueRef::Bool(b) => Some(b),
        ValueRef::List(items) => match first(batch, items) {
            ValueRef::Bool(b) => Some(b),
            _ => None,
        },
        _ => None,
    }
}

#[inline]
pub fn event_get_str(batch: &EventBatch, ev: usize, field: FieldId) -> Option<&str> {
    match batch.value(ev, field) {
        ValueRef::Str(s) => Some(s),
        ValueRef::List(items) => match first(batch, items) {
            ValueRef::Str(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// True when the field is absent, null, or an empty array.
#[inline]
pub fn event_is_null(batch: &EventBatch, ev: usize, field: FieldId) -> bool {
    match batch.value(ev, field) {
        ValueRef::Null => true,
        ValueRef::List(items) => items
            .iter()
            .all(|v| matches!(v, kestrel_event::Value::Null)),
        _ => false,
    }
}

/// Apply `test` to the field's string value(s). Null when the field holds no
/// string; true if any string element passes.
#[inline]
pub fn any_str(batch: &EventBatch, ev: usize, field: FieldId, test: impl Fn(&str) -> bool) -> Tri {
    match batch.value(ev, field) {
        ValueRef::Str(s) => tri(test(s)),
        ValueRef::List(items) => {
            let mut seen = false;
            for item in items {
                if let ValueRef::Str(s) = batch.element(item) {
                    if test(s) {
                        return TRUE;
                    }
                    seen = true;
                }
            }
            if seen {
                FALSE
            } else {
                NULL
            }
        }
        _ => NULL,
    }
}

/// `str_eq` on a plain string value when it and the literal are ASCII,
/// decided from the span (a length mismatch without reading the text);
/// None otherwise.
#[inline]
pub fn str_eq_ascii_span(batch: &EventBatch, span: Span, lit: &Literal, ci: bool) -> Option<Tri> {
    if !(span.is_ascii() && lit.ascii) {
        return None;
    }
    if span.byte_len() != lit.text.len() {
        return Some(FALSE);
    }
    let text = batch.span_bytes(span);
    Some(tri(if ci {
        text.eq_ignore_ascii_case(lit.folded.as_bytes())
    } else {
        same_bytes(text, lit.text.as_bytes())
    }))
}

#[inline]
pub fn str_eq(batch: &EventBatch, ev: usize, field: FieldId, lit: &Literal, ci: bool) -> Tri {
    // Fast path for the common case, an ASCII string column: the span says
    // whether the text is ASCII, so a length mismatch is decided without
    // reading the text.
    if let Some(t) = batch
        .str_span(ev, field)
        .and_then(|span| str_eq_ascii_span(batch, span, lit, ci))
    {
        return t;
    }
    if ci {
        any_str(batch, ev, field, |s| eq_folded(s, &lit.folded))
    } else {
        any_str(batch, ev, field, |s| {
            same_bytes(s.as_bytes(), lit.text.as_bytes())
        })
    }
}

/// Comparison codes shared with generated code (Wasm and Lua):
/// 0 `==`, 1 `!=`, 2 `<`, 3 `<=`, 4 `>`, 5 `>=`; null for any other code.
pub fn compare<T: PartialOrd>(op: i32, a: T, b: T) -> Tri {
    let r = match op {
        0 => a == b,
        1 => a != b,
        2 => a < b,
        3 => a <= b,
        4 => a > b,
        5 => a >= b,
        _ => return NULL,
    };
    r as Tri
}

/// Any-semantics over a numeric field: true if any of its values compares
/// true, false if one compares false and none true, null when none compares.
pub fn cmp_numeric(
    batch: &EventBatch,
    ev: usize,
    field: FieldId,
    test: impl Fn(ValueRef<'_>) -> Tri,
) -> Tri {
    match batch.value(ev, field) {
        ValueRef::List(items) => {
            let mut result = NULL;
            for item in items {
                match test(batch.element(item)) {
                    TRUE => return TRUE,
                    FALSE => result = FALSE,
                    _ => {}
                }
            }
            result
        }
        v => test(v),
    }
}

pub fn cmp_i64_value(v: ValueRef<'_>, op: i32, rhs: i64) -> Tri {
    match v {
        ValueRef::I64(x) => compare(op, x, rhs),
        ValueRef::U64(x) => compare(op, x as i128, rhs as i128),
        ValueRef::F64(x) => compare(op, x, rhs as f64),
        ValueRef::Null => NULL,
        // Strings and booleans never compare true against a number here: the
        // code generators only compare numeric fields this way and hand
        // other shapes (where EQL compares text) to the IR evaluator.
        _ => FALSE,
    }
}

pub fn cmp_f64_value(v: ValueRef<'_>, op: i32, rhs: f64) -> Tri {
    match v {
        ValueRef::I64(x) => compare(op, x as f64, rhs),
        ValueRef::U64(x) => compare(op, x as f64, rhs),
        ValueRef::F64(x) => compare(op, x, rhs),
        ValueRef::Null => NULL,
        _ => FALSE,
    }
}

/// The field compared with an integer, any of its values counting.
pub fn cmp_i64(batch: &EventBatch, ev: usize, field: FieldId, op: i32, rhs: i64) -> Tri {
    cmp_numeric(batch, ev, field, |v| cmp_i64_value(v, op, rhs))
}

/// The field compared with a float, any of its values counting.
pub fn cmp_f64(batch: &EventBatch, ev: usize, field: FieldId, op: i32, rhs: f64) -> Tri {
    cmp_numeric(batch, ev, field, |v| cmp_f64_value(v, op, rhs))
}

/// `test(text, pattern)` over the field's strings, on folded text and the
/// folded literal when case-insensitive.
fn str_test(
    batch: &EventBatch,
    ev: usize,
    field: FieldId,
    lit: &Literal,
    ci: bool,
    test: impl Fn(&str, &str) -> bool,
) -> Tri {
    if ci {
        any_str(batch, ev, field, |s| {
            crate::fold::with_folded(s, |f| test(f, &lit.folded))
        })
    } else {
        any_str(batch, ev, field, |s| test(s, &lit.text))
    }
}

pub fn str_contains(b: &EventBatch, ev: usize, f: FieldId, lit: &Literal, ci: bool) -> Tri {
    str_test(b, ev, f, lit, ci, |s, p| s.contains(p))
}

pub fn str_starts_with(b: &EventBatch, ev: usize, f: FieldId, lit: &Literal, ci: bool) -> Tri {
    str_test(b, ev, f, lit, ci, |s, p| s.starts_with(p))
}

pub fn str_ends_with(b: &EventBatch, ev: usize, f: FieldId, lit: &Literal, ci: bool) -> Tri {
    str_test(b, ev, f, lit, ci, |s, p| s.ends_with(p))
}

#[inline]
pub fn glob_match_field(batch: &EventBatch, ev: usize, field: FieldId, globs: &GlobSet) -> Tri {
    any_str(batch, ev, field, |s| globs.matches(s))
}

#[inline]
pub fn re_match_field(batch: &EventBatch, ev: usize, field: FieldId, re: &regex::Regex) -> Tri {
    any_str(batch, ev, field, |s| re.is_match(s))
}

#[inline]
pub fn set_contains(batch: &EventBatch, ev: usize, field: FieldId, set: &StrSet) -> Tri {
    any_str(batch, ev, field, |s| set.contains(s))
}
