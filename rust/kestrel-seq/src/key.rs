//! Join keys as compact bytes.
//!
//! Elasticsearch compares join keys positionally, as tuples of values, so the
//! key of `by unique_pid` on one step and `by unique_ppid` on the next are
//! comparable. We encode the tuple once per event into a byte string that is
//! both the hash-table key and the shard selector. Integers of either sign
//! share one encoding so `u64` and `i64` columns join; floats and strings keep
//! their own tags, as Java's `Long` and `Double` never compare equal.

use std::borrow::Cow;

use kestrel_event::{EventBatch, ValueRef};
use kestrel_ir::typed::address_bits;
use kestrel_ir::{FieldKind, FieldRef, Scalar};

const NULL: u8 = 0;
const INT: u8 = 1;
const BIG_UINT: u8 = 2;
const FLOAT: u8 = 3;
const BOOL: u8 = 4;
const STR: u8 = 5;
const IP: u8 = 6;

/// One decoded key component, for output.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyValue {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// Most keys one event may form: the product of its multi-valued
/// components' sizes is cut here, so one hostile array cannot fan out.
pub const MAX_KEYS_PER_EVENT: usize = 64;

/// Call `each` with every key event `ev` forms over `fields`, and return how
/// many it formed (at most [`MAX_KEYS_PER_EVENT`]).
///
/// Elasticsearch joins a multi-valued key field per value: an event whose
/// `user.name` is `["a", "b"]` joins under `a` and under `b`, so one event
/// can meet many partners and the other way round. With several components
/// the keys are their product, duplicates within one array counted once. A
/// non-optional component that is null, or an empty array, forms no key; a
/// `?field` one joins as null.
pub fn for_each_key(
    batch: &EventBatch,
    ev: usize,
    fields: &[FieldRef],
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]),
) -> usize {
    // The common case, no component multi-valued: one pass, no allocation.
    buf.clear();
    let mut single = true;
    for field in fields {
        match batch.value(ev, field.field) {
            ValueRef::List(_) => {
                single = false;
                break;
            }
            value if !push_value(buf, value, field) => return 0,
            _ => {}
        }
    }
    if single {
        each(buf);
        return 1;
    }
    // Each component's distinct encodings, then their product by odometer.
    let mut parts: Vec<Vec<Vec<u8>>> = Vec::with_capacity(fields.len());
    for field in fields {
        let mut encoded: Vec<Vec<u8>> = Vec::new();
        let mut push = |value: ValueRef<'_>| {
            let mut one = Vec::new();
            if push_value(&mut one, value, field) && !encoded.contains(&one) {
                encoded.push(one);
            }
        };
        match batch.value(ev, field.field) {
            ValueRef::List(items) => items.iter().for_each(|item| push(batch.element(item))),
            other => push(other),
        }
        if encoded.is_empty() {
            return 0;
        }
        parts.push(encoded);
    }
    let mut at = vec![0usize; parts.len()];
    let mut formed = 0;
    while formed < MAX_KEYS_PER_EVENT {
        buf.clear();
        for (part, &i) in parts.iter().zip(&at) {
            buf.extend_from_slice(&part[i]);
        }
        each(buf);
        formed += 1;
        let Some(turn) = (0..parts.len()).rev().find(|&p| at[p] + 1 < parts[p].len()) else {
            break;
        };
        at[turn] += 1;
        at[turn + 1..].iter_mut().for_each(|i| *i = 0);
    }
    formed
}

/// Append the key of event `ev` over `fields` to `out`, a multi-valued
/// component joining on its first value. Returns false when a non-optional
/// component is null: such an event does not join. The matcher itself joins
/// per value ([`for_each_key`]); this form names one event's first key.
pub fn encode_key(batch: &EventBatch, ev: usize, fields: &[FieldRef], out: &mut Vec<u8>) -> bool {
    for field in fields {
        let value = match batch.value(ev, field.field) {
            ValueRef::List(items) => items
                .first()
                .map_or(ValueRef::Null, |item| batch.element(item)),
            other => other,
        };
        if !push_value(out, value, field) {
            return false;
        }
    }
    true
}

/// Append one component; false when it cannot join (null and not optional).
fn push_value(out: &mut Vec<u8>, value: ValueRef<'_>, field: &FieldRef) -> bool {
    match value {
        ValueRef::Null | ValueRef::List(_) => {
            if !field.optional {
                return false;
            }
            out.push(NULL);
        }
        ValueRef::I64(x) => push_int(out, x),
        ValueRef::U64(x) => match i64::try_from(x) {
            Ok(x) => push_int(out, x),
            Err(_) => {
                out.push(BIG_UINT);
                out.extend_from_slice(&x.to_le_bytes());
            }
        },
        ValueRef::F64(x) => {
            out.push(FLOAT);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        ValueRef::Bool(x) => {
            out.push(BOOL);
            out.push(u8::from(x));
        }
        ValueRef::Str(s) => push_text(out, s, field),
    }
    true
}

/// A text component. An ip field joins as an address ("::1" and "0:0::1"
/// are one key), a date field as its instant at the field's precision; a
/// value that does not read as its type joins as text.
fn push_text(out: &mut Vec<u8>, s: &str, field: &FieldRef) {
    match field.kind {
        FieldKind::Ip => {
            if let Some(bits) = address_bits(s) {
                out.push(IP);
                out.extend_from_slice(&bits.to_be_bytes());
                return;
            }
        }
        kind @ FieldKind::Date { .. } => {
            if let Some(ns) = kind.instant(&Scalar::Str(Cow::Borrowed(s))) {
                return push_int(out, ns);
            }
        }
        _ => {}
    }
    out.push(STR);
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn push_int(out: &mut Vec<u8>, x: i64) {
    out.push(INT);
    out.extend_from_slice(&x.to_le_bytes());
}

/// The components of an encoded key. Malformed bytes end the list early.
pub fn decode_key(mut bytes: &[u8]) -> Vec<KeyValue> {
    let mut values = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        let (value, used) = match tag {
            NULL => (KeyValue::Null, 0),
            INT if rest.len() >= 8 => (
                KeyValue::Int(i64::from_le_bytes(rest[..8].try_into().unwrap())),
                8,
            ),
            BIG_UINT if rest.len() >= 8 => (
                KeyValue::UInt(u64::from_le_bytes(rest[..8].try_into().unwrap())),
                8,
            ),
            FLOAT if rest.len() >= 8 => (
                KeyValue::Float(f64::from_bits(u64::from_le_bytes(
                    rest[..8].try_into().unwrap(),
                ))),
                8,
            ),
            BOOL if !rest.is_empty() => (KeyValue::Bool(rest[0] != 0), 1),
            STR if rest.len() >= 4 => {
                let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                if rest.len() < 4 + len {
                    break;
                }
                (
                    KeyValue::Str(String::from_utf8_lossy(&rest[4..4 + len]).into_owned()),
                    4 + len,
                )
            }
            IP if rest.len() >= 16 => {
                let bits = u128::from_be_bytes(rest[..16].try_into().unwrap());
                let addr = std::net::Ipv6Addr::from(bits);
                let text = addr
                    .to_ipv4_mapped()
                    .map_or_else(|| addr.to_string(), |v4| v4.to_string());
                (KeyValue::Str(text), 16)
            }
            _ => break,
        };
        values.push(value);
        bytes = &rest[used..];
    }
    values
}

/// Keys up to this many bytes live inside the hit, without an allocation.
const INLINE: usize = 54;

/// A hit's key bytes: inline when short (the common case), boxed otherwise.
#[derive(Clone, Debug)]
pub(crate) enum HitKey {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl HitKey {
    pub(crate) fn new(bytes: &[u8]) -> HitKey {
        if bytes.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            HitKey::Inline(bytes.len() as u8, buf)
        } else {
            HitKey::Heap(bytes.into())
        }
    }
}

impl std::ops::Deref for HitKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            HitKey::Inline(len, buf) => &buf[..*len as usize],
            HitKey::Heap(b) => b,
        }
    }
}

impl PartialEq<Vec<u8>> for HitKey {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}
