//! Join keys as compact bytes.
//!
//! Elasticsearch compares join keys positionally, as tuples of values, so the
//! key of `by unique_pid` on one step and `by unique_ppid` on the next are
//! comparable. We encode the tuple once per event into a byte string that is
//! both the hash-table key and the shard selector. Integers of either sign
//! share one encoding so `u64` and `i64` columns join; floats and strings keep
//! their own tags, as Java's `Long` and `Double` never compare equal.

use kestrel_event::{EventBatch, ValueRef};
use kestrel_ir::FieldRef;

const NULL: u8 = 0;
const INT: u8 = 1;
const BIG_UINT: u8 = 2;
const FLOAT: u8 = 3;
const BOOL: u8 = 4;
const STR: u8 = 5;

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

/// Append the key of event `ev` over `fields` to `out`. Returns false when a
/// non-optional component is null: such an event does not join.
pub fn encode_key(batch: &EventBatch, ev: usize, fields: &[FieldRef], out: &mut Vec<u8>) -> bool {
    for field in fields {
        let value = match batch.value(ev, field.field) {
            // A multi-valued key field joins on its first value.
            ValueRef::List(items) => items.first().map_or(ValueRef::Null, |item| batch.element(item)),
            other => other,
        };
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
            ValueRef::Str(s) => {
                out.push(STR);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    true
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
            INT if rest.len() >= 8 => (KeyValue::Int(i64::from_le_bytes(rest[..8].try_into().unwrap())), 8),
            BIG_UINT if rest.len() >= 8 => (KeyValue::UInt(u64::from_le_bytes(rest[..8].try_into().unwrap())), 8),
            FLOAT if rest.len() >= 8 => {
                (KeyValue::Float(f64::from_bits(u64::from_le_bytes(rest[..8].try_into().unwrap()))), 8)
            }
            BOOL if !rest.is_empty() => (KeyValue::Bool(rest[0] != 0), 1),
            STR if rest.len() >= 4 => {
                let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                if rest.len() < 4 + len {
                    break;
                }
                (KeyValue::Str(String::from_utf8_lossy(&rest[4..4 + len]).into_owned()), 4 + len)
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
