//! Runtime values: what evaluating a node yields for one event.
//!
//! Mirrors the interpreter's Python values: `None`, `bool`, `int`, `float`,
//! `str`, and `Many` (the alternatives of a multi-valued field, or of
//! anything derived from one). Strings borrow from the batch or the program
//! whenever they can, so the common paths never allocate.

use std::borrow::Cow;

use kestrel_event::{EventBatch, Value, ValueRef};
use kestrel_schema::FieldId;

/// One value. `Int` is `i128` so that every `i64`/`u64` (and the results the
/// interpreter can produce from them) is exact, like a Python int.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
}

impl<'a> Scalar<'a> {
    /// A view of `self` that borrows instead of owning.
    pub fn reborrow(&self) -> Scalar<'_> {
        match self {
            Scalar::Null => Scalar::Null,
            Scalar::Bool(b) => Scalar::Bool(*b),
            Scalar::Int(i) => Scalar::Int(*i),
            Scalar::Float(x) => Scalar::Float(*x),
            Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
        }
    }

    /// Detach from the borrowed batch/program (for values that must outlive them).
    pub fn into_owned(self) -> Scalar<'static> {
        match self {
            Scalar::Null => Scalar::Null,
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::Int(i) => Scalar::Int(i),
            Scalar::Float(x) => Scalar::Float(x),
            Scalar::Str(s) => Scalar::Str(Cow::Owned(s.into_owned())),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// Numbers in the interpreter's sense (`is_number`): ints and floats, not bools.
    pub fn is_number(&self) -> bool {
        matches!(self, Scalar::Int(_) | Scalar::Float(_))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn from_tri(value: Option<bool>) -> Scalar<'static> {
        value.map_or(Scalar::Null, Scalar::Bool)
    }

    pub fn from_ref(value: ValueRef<'a>) -> Scalar<'a> {
        match value {
            ValueRef::Null | ValueRef::List(_) => Scalar::Null,
            ValueRef::I64(x) => Scalar::Int(x.into()),
            ValueRef::U64(x) => Scalar::Int(x.into()),
            ValueRef::F64(x) => Scalar::Float(x),
            ValueRef::Bool(b) => Scalar::Bool(b),
            ValueRef::Str(s) => Scalar::Str(Cow::Borrowed(s)),
        }
    }
}

/// A node's value: one scalar, or several alternatives.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    One(Scalar<'a>),
    /// A multi-valued field: the batch's list items, at least two of them
    /// non-null. Kept as the batch's slice so reading it never allocates.
    Field(&'a [Value]),
    /// Alternatives derived from a multi-valued input (may contain nulls).
    Many(Vec<Scalar<'a>>),
}

pub(crate) const NULL: Val<'static> = Val::One(Scalar::Null);

impl<'a> Val<'a> {
    /// Read `field` of event `ev` the way the interpreter's `load_field`
    /// does: a missing field, a null and an empty array are null, and an
    /// array with one non-null element is that element.
    pub fn load(batch: &'a EventBatch, ev: usize, field: FieldId) -> Val<'a> {
        match batch.value(ev, field) {
            ValueRef::List(items) => {
                let mut present = items.iter().filter(|v| !matches!(v, Value::Null));
                match (present.next(), present.next()) {
                    (None, _) => NULL,
                    (Some(only), None) => Val::One(Scalar::from_ref(batch.element(only))),
                    _ => Val::Field(items),
                }
            }
            other => Val::One(Scalar::from_ref(other)),
        }
    }

    /// The interpreter's `_collect`: one result stands alone, several are alternatives.
    pub(crate) fn collect(mut results: Vec<Scalar<'a>>) -> Val<'a> {
        if results.len() == 1 {
            Val::One(results.pop().unwrap_or(Scalar::Null))
        } else {
            Val::Many(results)
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::One(Scalar::Null))
    }

    pub fn is_many(&self) -> bool {
        !matches!(self, Val::One(_))
    }

    /// The value in a boolean context (`truth`): only a single bool counts.
    pub fn truth(&self) -> Option<bool> {
        match self {
            Val::One(Scalar::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// How many alternatives the value stands for (a scalar, null included, is one).
    pub fn count(&self) -> usize {
        match self {
            Val::One(_) => 1,
            Val::Field(items) => items.iter().filter(|v| !matches!(v, Value::Null)).count(),
            Val::Many(items) => items.len(),
        }
    }

    /// Every alternative, taking ownership (field elements still borrow the batch).
    pub fn into_alternatives(self, batch: &'a EventBatch) -> Vec<Scalar<'a>> {
        match self {
            Val::One(s) => vec![s],
            Val::Field(items) => items
                .iter()
                .filter(|v| !matches!(v, Value::Null))
                .map(|v| Scalar::from_ref(batch.element(v)))
                .collect(),
            Val::Many(items) => items,
        }
    }

    /// Every alternative, borrowed from `self` (and `batch` for fields).
    pub fn alternatives<'s>(&'s self, batch: &'s EventBatch) -> Alternatives<'s> {
        match self {
            Val::One(s) => Alternatives::One(Some(s.reborrow())),
            Val::Field(items) => Alternatives::Field(batch, items.iter()),
            Val::Many(items) => Alternatives::Many(items.iter()),
        }
    }
}

/// Iterator over a [`Val`]'s alternatives.
pub enum Alternatives<'s> {
    One(Option<Scalar<'s>>),
    Field(&'s EventBatch, std::slice::Iter<'s, Value>),
    Many(std::slice::Iter<'s, Scalar<'s>>),
}

impl<'s> Iterator for Alternatives<'s> {
    type Item = Scalar<'s>;

    fn next(&mut self) -> Option<Scalar<'s>> {
        match self {
            Alternatives::One(s) => s.take(),
            Alternatives::Field(batch, items) => items
                .find(|v| !matches!(v, Value::Null))
                .map(|v| Scalar::from_ref(batch.element(v))),
            Alternatives::Many(items) => items.next().map(Scalar::reborrow),
        }
    }
}

/// Kleene "any" over alternatives (`any_true`): true if one is true, else
/// null if one is null, else false.
pub fn any_true(results: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut saw_null = false;
    for result in results {
        match result {
            Some(true) => return Some(true),
            None => saw_null = true,
            Some(false) => {}
        }
    }
    if saw_null {
        None
    } else {
        Some(false)
    }
}

/// A borrowed string scalar, for tests.
#[cfg(test)]
pub(crate) fn s(text: &str) -> Scalar<'_> {
    Scalar::Str(Cow::Borrowed(text))
}
