//! Alert documents, written straight to JSON bytes.
//!
//! An alert line is
//!
//! ```text
//! {"@timestamp":"2026-01-05T08:00:01.000Z","kind":"event","rule":{...},
//!  "join_keys":[...],"events":[<original JSON>,...],"captures":{...} | [{...},...]}
//! ```
//!
//! with `join_keys` for sequences and samples only. Each event is spliced in
//! as the bytes it arrived as: an alert is never parsed on its way out.

use kestrel_event::json::{write_str, write_value};
use kestrel_event::{EventBatch, ValueRef, NO_TIMESTAMP};
use kestrel_schema::{FieldId, Schema};
use kestrel_seq::KeyValue;

/// Where an alert falls in Elasticsearch order: timestamp (untimed first),
/// tiebreaker, then ingest sequence number. A sequence sorts by its first
/// event, whose tiebreaker counts as 0.
pub type Order = (i64, i64, u64);

/// A tiebreaker that is not a number sorts last, as in the sequence matcher.
pub const NO_TIEBREAKER: i64 = i64::MAX;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A missing step's placeholder in a sequence's evidence.
pub const MISSING: &[u8] = br#"{"missing":true}"#;

/// One rendered alert on its way through a rule's pipes and deduplication.
#[derive(Clone, Debug)]
pub struct Alert {
    pub order: Order,
    /// Event time of the alert (`@timestamp`), if it has one.
    pub timestamp: Option<i64>,
    /// Identity for deduplication: the rule, join keys, evidence and captures.
    pub identity: [u8; 16],
    /// The whole JSON line, without its newline.
    pub line: Vec<u8>,
}

/// What an alert is made of, borrowed from the batch or the match.
pub struct AlertParts<'a> {
    pub rule_id: &'a str,
    pub rule_json: &'a [u8],
    pub kind: &'a str,
    pub timestamp: Option<i64>,
    pub join_keys: Option<&'a [KeyValue]>,
    pub events: &'a [&'a [u8]],
    pub captures: &'a [u8],
    pub order: Order,
}

pub fn render(parts: &AlertParts<'_>) -> Alert {
    let size = 96
        + parts.rule_json.len()
        + parts.captures.len()
        + parts.events.iter().map(|e| e.len() + 1).sum::<usize>();
    let mut line = Vec::with_capacity(size);
    line.extend_from_slice(b"{\"@timestamp\":");
    match parts.timestamp {
        Some(ns) => {
            line.push(b'"');
            iso8601_millis(ns, &mut line);
            line.push(b'"');
        }
        None => line.extend_from_slice(b"null"),
    }
    line.extend_from_slice(b",\"kind\":");
    write_str(parts.kind, &mut line);
    line.extend_from_slice(b",\"rule\":");
    line.extend_from_slice(parts.rule_json);
    let body = line.len();
    if let Some(keys) = parts.join_keys {
        line.extend_from_slice(b",\"join_keys\":");
        write_keys(keys, &mut line);
    }
    line.extend_from_slice(b",\"events\":[");
    for (n, event) in parts.events.iter().enumerate() {
        if n > 0 {
            line.push(b',');
        }
        line.extend_from_slice(event);
    }
    line.extend_from_slice(b"],\"captures\":");
    line.extend_from_slice(parts.captures);
    let mut hasher = blake3::Hasher::new();
    hasher.update(parts.rule_id.as_bytes());
    hasher.update(&[0]);
    hasher.update(&line[body..]);
    let mut identity = [0u8; 16];
    identity.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    // The identity is also the alert's id: the same alert raised again (a
    // replay after a restore) has the same one, so an index keyed on it
    // (Elasticsearch `_id`, a Kafka record key) stores it once.
    line.extend_from_slice(b",\"id\":\"");
    for byte in identity {
        line.push(HEX[(byte >> 4) as usize]);
        line.push(HEX[(byte & 15) as usize]);
    }
    line.extend_from_slice(b"\"}");
    Alert {
        order: parts.order,
        timestamp: parts.timestamp,
        identity,
        line,
    }
}

/// `timestamp` as the alert carries it: `None` for an untimed event.
pub fn event_time(ns: i64) -> Option<i64> {
    (ns != NO_TIMESTAMP).then_some(ns)
}

/// The order of event `ev`: its time, the tiebreaker field's value when one
/// is configured (a non-number sorts last), its ingest number.
pub fn event_order(batch: &EventBatch, ev: usize, tiebreaker: Option<FieldId>) -> Order {
    let tb = match tiebreaker {
        None => 0,
        Some(field) => match batch.value(ev, field) {
            ValueRef::I64(x) => x,
            ValueRef::U64(x) => i64::try_from(x).unwrap_or(i64::MAX),
            ValueRef::F64(x) if x.is_finite() => x.trunc() as i64,
            _ => NO_TIEBREAKER,
        },
    };
    (batch.timestamp(ev), tb, batch.seq(ev))
}

/// Field paths written as JSON keys (`"process.name":`), once per rule set.
///
/// An alert's captures are then written without taking the schema's lock,
/// or cloning a field's definition (its reference-counted path and format),
/// for every captured field of every alert.
#[derive(Debug)]
pub struct FieldKeys {
    /// Where a field the keys were not made for is looked up.
    schema: Schema,
    /// By field id; empty where the schema had no field.
    keys: Vec<Box<[u8]>>,
}

impl FieldKeys {
    /// The keys of every field `schema` holds now.
    pub fn new(schema: &Schema) -> FieldKeys {
        let mut keys: Vec<Box<[u8]>> = Vec::new();
        for def in schema.fields() {
            let id = def.id as usize;
            if keys.len() <= id {
                keys.resize(id + 1, Box::default());
            }
            let mut key = Vec::with_capacity(def.path.len() + 3);
            write_key(&def.path, &mut key);
            keys[id] = key.into_boxed_slice();
        }
        FieldKeys {
            schema: schema.clone(),
            keys,
        }
    }

    /// No keys made ahead: every field is looked up in `schema`.
    pub fn lookup_only(schema: &Schema) -> FieldKeys {
        FieldKeys {
            schema: schema.clone(),
            keys: Vec::new(),
        }
    }

    /// Write field `id`'s key; false when the schema has no such field. A
    /// field the schema gained after these keys were made is looked up.
    fn write(&self, id: FieldId, out: &mut Vec<u8>) -> bool {
        match self.keys.get(id as usize).filter(|key| !key.is_empty()) {
            Some(key) => out.extend_from_slice(key),
            None => match self.schema.field(id) {
                Some(def) => write_key(&def.path, out),
                None => return false,
            },
        }
        true
    }
}

fn write_key(path: &str, out: &mut Vec<u8>) {
    write_str(path, out);
    out.push(b':');
}

/// The fields `fields` of event `ev` as one JSON object `{"path": value}`.
pub fn captures_object(
    keys: &FieldKeys,
    batch: &EventBatch,
    ev: usize,
    fields: &[FieldId],
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    let start = out.len();
    if ev < batch.len() {
        for &id in fields {
            let before = out.len();
            if out.len() > start {
                out.push(b',');
            }
            if keys.write(id, out) {
                write_value(batch, batch.value(ev, id), out);
            } else {
                out.truncate(before);
            }
        }
    }
    out.push(b'}');
}

fn write_keys(keys: &[KeyValue], out: &mut Vec<u8>) {
    out.push(b'[');
    for (n, key) in keys.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        match key {
            KeyValue::Null => out.extend_from_slice(b"null"),
            KeyValue::Int(x) => out.extend_from_slice(x.to_string().as_bytes()),
            KeyValue::UInt(x) => out.extend_from_slice(x.to_string().as_bytes()),
            KeyValue::Float(x) if x.is_finite() => {
                out.extend_from_slice(format!("{x:?}").as_bytes())
            }
            KeyValue::Float(_) => out.extend_from_slice(b"null"),
            KeyValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            KeyValue::Str(s) => write_str(s, out),
        }
    }
    out.push(b']');
}

/// Epoch nanoseconds as ISO 8601 UTC, cut to milliseconds:
/// `2026-01-05T08:00:01.000Z`.
pub fn iso8601_millis(ns: i64, out: &mut Vec<u8>) {
    use std::io::Write;
    let seconds = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
}

/// The proleptic Gregorian date of a day count from 1970-01-01
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ns: i64) -> String {
        let mut out = Vec::new();
        iso8601_millis(ns, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_like_python() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_767_600_001_123_456_789), "2026-01-05T08:00:01.123Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn captures_read_keys_made_ahead_and_look_up_later_fields() {
        use kestrel_event::{DecodeOptions, Decoder, SourceInfo};
        use kestrel_schema::{FieldType, ScalarType};

        let schema = Schema::new("test", "1");
        let name = schema.declare("process.name", FieldType::scalar(ScalarType::String));
        let keys = FieldKeys::new(&schema);
        // Declared after the keys were made: looked up in the schema.
        let pid = schema.declare("process.pid", FieldType::scalar(ScalarType::I64));
        let line = br#"{"process":{"name":"a\"b.exe","pid":7}}"#;
        let batch = Decoder::new(schema.clone(), DecodeOptions::default())
            .decode(line, &SourceInfo::default());
        let captured = |keys: &FieldKeys, fields: &[FieldId]| {
            let mut out = Vec::new();
            captures_object(keys, &batch, 0, fields, &mut out);
            String::from_utf8(out).unwrap()
        };
        let want = r#"{"process.name":"a\"b.exe","process.pid":7}"#;
        assert_eq!(captured(&keys, &[name, pid]), want);
        assert_eq!(
            captured(&FieldKeys::lookup_only(&schema), &[name, pid]),
            want
        );
        // An id the schema never gave is left out, commas and all.
        assert_eq!(
            captured(&keys, &[FieldId::MAX, name]),
            r#"{"process.name":"a\"b.exe"}"#
        );
        assert_eq!(
            captured(&keys, &[name, FieldId::MAX]),
            r#"{"process.name":"a\"b.exe"}"#
        );
    }

    #[test]
    fn identity_ignores_time_but_not_evidence() {
        let parts = |ts, event: &'static [u8]| AlertParts {
            rule_id: "r",
            rule_json: b"{}",
            kind: "event",
            timestamp: Some(ts),
            join_keys: None,
            events: std::slice::from_ref(Box::leak(Box::new(event))),
            captures: b"{}",
            order: (ts, 0, 0),
        };
        let (a, b, c) = (
            render(&parts(1, b"{\"a\":1}")),
            render(&parts(2, b"{\"a\":1}")),
            render(&parts(1, b"{\"a\":2}")),
        );
        assert_eq!(a.identity, b.identity);
        assert_ne!(a.identity, c.identity);
        let tail = b"\"events\":[{\"a\":1}],\"captures\":{},\"id\":\"";
        let at = a.line.len() - tail.len() - 34;
        assert_eq!(&a.line[at..at + tail.len()], tail);
        let id: String = a.identity.iter().map(|b| format!("{b:02x}")).collect();
        assert!(a.line.ends_with(format!("{id}\"}}").as_bytes()));
        assert_eq!(b.line[b.line.len() - 34..], a.line[a.line.len() - 34..]);
    }
}
