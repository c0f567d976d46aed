//! ECS JSON → EventBatch: NDJSON is split into lines, each line is parsed
//! with simd-json, nested objects are flattened to dotted paths, and every
//! leaf is coerced to its field's type and appended to its column.

use std::borrow::Cow;

use ahash::AHashMap;
use kestrel_schema::{FieldId, FieldType, ScalarType, Schema};
use simd_json::prelude::*;
use simd_json::{BorrowedValue, StaticNode};

use crate::batch::{EventBatch, Span, Value};
use crate::builder::Reject;
use crate::errors::{IngestErrorKind, IngestErrorRecord};
use crate::time::{parse_text, TimeUnit};

/// How events are read: which fields play which role, and input limits.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    pub timestamp_field: String,
    pub timestamp_unit: TimeUnit,
    pub category_field: String,
    pub entity_field: String,
    /// Longer strings are rejected (the field is nulled and the line reported).
    pub max_string_bytes: usize,
    /// Longer lines are rejected whole.
    pub max_line_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            timestamp_field: "@timestamp".into(),
            timestamp_unit: TimeUnit::Millis,
            category_field: "event.category".into(),
            entity_field: "host.id".into(),
            max_string_bytes: 1 << 20,
            max_line_bytes: 16 << 20,
        }
    }
}

/// Where a batch's lines come from, for error records and evidence.
#[derive(Clone, Debug, Default)]
pub struct SourceInfo {
    pub name: String,
    /// The line number of the first line of the input (1-based).
    pub first_line: u32,
    /// The ingest sequence number of the first event.
    pub first_seq: u64,
}

const ROLE_TIMESTAMP: u8 = 1;
const ROLE_CATEGORY: u8 = 2;
const ROLE_ENTITY: u8 = 4;

#[derive(Clone, Copy)]
struct Slot {
    field: FieldId,
    ty: FieldType,
    roles: u8,
}

/// A reusable decoder. It caches path→field resolutions across batches of
/// one stream, so steady-state decoding does one hash lookup per leaf.
pub struct Decoder {
    schema: Schema,
    opts: DecodeOptions,
    slots: AHashMap<String, Slot>,
    scratch: Vec<u8>,
    buffers: simd_json::Buffers,
    path: String,
}

/// The per-event state the walker threads through.
struct EventCtx<'b> {
    batch: &'b mut EventBatch,
    ev: usize,
    line: u32,
    categories: Vec<u16>,
}

impl Decoder {
    pub fn new(schema: Schema, opts: DecodeOptions) -> Self {
        Decoder {
            schema,
            opts,
            slots: AHashMap::new(),
            scratch: Vec::new(),
            buffers: simd_json::Buffers::default(),
            path: String::with_capacity(128),
        }
    }

    pub fn options(&self) -> &DecodeOptions {
        &self.opts
    }

    /// Decode newline-delimited JSON into one batch. Never fails: problems
    /// become the batch's error records.
    pub fn decode(&mut self, input: &[u8], source: &SourceInfo) -> EventBatch {
        let mut batch = EventBatch {
            source: source.name.clone(),
            first_seq: source.first_seq,
            ..Default::default()
        };
        batch.category_offsets.push(0);
        // Rough pre-sizing: ECS events run to about a kilobyte.
        let guess = input.len() / 512 + 1;
        batch.raw.reserve(input.len());
        batch.arena.reserve(input.len() / 2);
        batch.lines.reserve(guess);
        batch.timestamps.reserve(guess);
        batch.raw_spans.reserve(guess);

        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let mut line_no = source.first_line.max(1);
        let mut start = 0;
        while start <= input.len() {
            let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i);
            let mut line = &input[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                batch.lines_read += 1;
                self.decode_line(&mut batch, line, line_no);
            }
            line_no = line_no.saturating_add(1);
            start = end + 1;
        }
        for col in &mut batch.columns {
            col.finish(batch.len);
        }
        batch
    }

    fn decode_line(&mut self, batch: &mut EventBatch, line: &[u8], line_no: u32) {
        let reject = |batch: &mut EventBatch, kind, message: String| {
            batch.errors.push(IngestErrorRecord {
                source: batch.source.clone(),
                line: line_no,
                kind,
                field: None,
                message,
            });
        };
        if line.len() > self.opts.max_line_bytes {
            let msg = format!("{} bytes, over the limit of {}", line.len(), self.opts.max_line_bytes);
            return reject(batch, IngestErrorKind::LineTooLong, msg);
        }
        if batch.raw.len() + line.len() > u32::MAX as usize {
            return reject(batch, IngestErrorKind::BatchFull, "batch buffers are full".into());
        }
        // simd-json parses in place, so it gets a scratch copy; the original
        // bytes are kept untouched as the event's evidence.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(line);
        let mut buffers = std::mem::take(&mut self.buffers);
        match simd_json::to_borrowed_value_with_buffers(&mut scratch, &mut buffers) {
            Err(e) => reject(batch, IngestErrorKind::MalformedJson, json_error_message(&e, line)),
            Ok(BorrowedValue::Object(obj)) => {
                let ev = batch.len;
                let raw_off = batch.raw.len() as u32;
                batch.raw.extend_from_slice(line);
                batch.raw_spans.push(Span { off: raw_off, len: line.len() as u32 });
                batch.lines.push(line_no);
                batch.timestamps.push(crate::batch::NO_TIMESTAMP);
                batch.entity_keys.push(None);
                batch.len += 1;
                let mut ctx = EventCtx { batch, ev, line: line_no, categories: Vec::new() };
                self.path.clear();
                for (key, value) in obj.iter() {
                    self.walk(&mut ctx, key, value, false);
                }
                let EventCtx { batch, categories, .. } = ctx;
                batch.category_ids.extend_from_slice(&categories);
                batch.category_offsets.push(batch.category_ids.len() as u32);
            }
            Ok(other) => {
                let kind = value_kind(&other);
                reject(batch, IngestErrorKind::NotAnObject, format!("expected a JSON object, got {kind}"))
            }
        }
        self.scratch = scratch;
        self.buffers = buffers;
    }

    fn walk(&mut self, ctx: &mut EventCtx<'_>, key: &str, value: &BorrowedValue<'_>, in_array: bool) {
        let len = self.path.len();
        if len > 0 {
            self.path.push('.');
        }
        self.path.push_str(key);
        match value {
            BorrowedValue::Object(obj) => {
                for (k, v) in obj.iter() {
                    self.walk(ctx, k, v, in_array);
                }
            }
            BorrowedValue::Array(items) => self.walk_array(ctx, items),
            scalar => self.leaf(ctx, scalar, in_array),
        }
        self.path.truncate(len);
    }

    /// Arrays of objects flatten the way Elasticsearch's object mapping does:
    /// each leaf path gathers the values of all elements. Nested arrays
    /// flatten into one list.
    fn walk_array(&mut self, ctx: &mut EventCtx<'_>, items: &[BorrowedValue<'_>]) {
        for item in items {
            match item {
                BorrowedValue::Object(obj) => {
                    for (k, v) in obj.iter() {
                        self.walk(ctx, k, v, true);
                    }
                }
                BorrowedValue::Array(inner) => self.walk_array(ctx, inner),
                scalar => self.leaf(ctx, scalar, true),
            }
        }
    }

    fn slot(&mut self) -> Slot {
        if let Some(slot) = self.slots.get(self.path.as_str()) {
            return *slot;
        }
        let def = self.schema.resolve(&self.path);
        let mut roles = 0;
        if self.path == self.opts.timestamp_field {
            roles |= ROLE_TIMESTAMP;
        }
        if self.path == self.opts.category_field {
            roles |= ROLE_CATEGORY;
        }
        if self.path == self.opts.entity_field {
            roles |= ROLE_ENTITY;
        }
        let slot = Slot { field: def.id, ty: def.ty, roles };
        self.slots.insert(self.path.clone(), slot);
        slot
    }

    fn leaf(&mut self, ctx: &mut EventCtx<'_>, value: &BorrowedValue<'_>, in_array: bool) {
        if matches!(value, BorrowedValue::Static(StaticNode::Null)) {
            return;
        }
        let mut slot = self.slot();
        if slot.roles != 0 {
            self.apply_roles(ctx, slot.roles, value);
        }
        if slot.ty.scalar == ScalarType::Unknown {
            // First sighting of an unknown field settles its type.
            let natural = natural_scalar(value);
            let def = self.schema.observe(&self.path, FieldType::scalar(natural));
            slot.ty = def.ty;
            if let Some(s) = self.slots.get_mut(self.path.as_str()) {
                s.ty = def.ty;
            }
        }
        let auto_typed = self.schema_is_auto(slot.field);
        let stored = match coerce(ctx.batch, value, slot.ty.scalar, self.opts.max_string_bytes) {
            Ok(v) => v,
            Err(Reject::WrongType(_)) if auto_typed => {
                // An inferred type is only a guess: keep the value as it came
                // (the column becomes mixed) and record the conflict once.
                let natural = natural_scalar(value);
                self.schema.record_conflict(slot.field, FieldType::scalar(natural));
                match coerce(ctx.batch, value, natural, self.opts.max_string_bytes) {
                    Ok(v) => v,
                    Err(r) => return self.field_error(ctx, r),
                }
            }
            Err(r) => return self.field_error(ctx, r),
        };
        let col = ctx.batch.column_index(slot.field, slot.ty);
        ctx.batch.columns[col].put(ctx.ev, stored, in_array);
    }

    fn schema_is_auto(&self, field: FieldId) -> bool {
        self.schema.field(field).is_some_and(|d| d.auto)
    }

    fn field_error(&self, ctx: &mut EventCtx<'_>, reject: Reject) {
        let (kind, message) = match reject {
            Reject::WrongType(m) => (IngestErrorKind::WrongType, m),
            Reject::TooLong(n) => (
                IngestErrorKind::StringTooLong,
                format!("{n} bytes, over the limit of {}", self.opts.max_string_bytes),
            ),
            Reject::ArenaFull => (IngestErrorKind::BatchFull, "string arena is full".into()),
        };
        ctx.batch.errors.push(IngestErrorRecord {
            source: ctx.batch.source.clone(),
            line: ctx.line,
            kind,
            field: Some(self.path.clone()),
            message,
        });
    }

    fn apply_roles(&mut self, ctx: &mut EventCtx<'_>, roles: u8, value: &BorrowedValue<'_>) {
        if roles & ROLE_TIMESTAMP != 0 {
            let unit = self.opts.timestamp_unit;
            let parsed = match value {
                BorrowedValue::Static(StaticNode::I64(n)) => unit.int_to_nanos(*n),
                BorrowedValue::Static(StaticNode::U64(n)) => {
                    i64::try_from(*n).ok().and_then(|n| unit.int_to_nanos(n))
                }
                BorrowedValue::Static(StaticNode::F64(x)) => unit.to_nanos(*x),
                BorrowedValue::String(s) => parse_text(s, unit),
                _ => None,
            };
            match parsed {
                Some(ns) => ctx.batch.timestamps[ctx.ev] = ns,
                None => ctx.batch.errors.push(IngestErrorRecord {
                    source: ctx.batch.source.clone(),
                    line: ctx.line,
                    kind: IngestErrorKind::BadTimestamp,
                    field: Some(self.path.clone()),
                    message: format!("cannot read {} as a timestamp", short_json(value)),
                }),
            }
        }
        if roles & ROLE_CATEGORY != 0 {
            if let Some(text) = scalar_text(value) {
                let id = intern_category(ctx.batch, &text);
                if !ctx.categories.contains(&id) {
                    ctx.categories.push(id);
                }
            }
        }
        if roles & ROLE_ENTITY != 0 && ctx.batch.entity_keys[ctx.ev].is_none() {
            if let Some(text) = scalar_text(value) {
                ctx.batch.entity_keys[ctx.ev] = ctx.batch.intern(&text).ok();
            }
        }
    }
}

fn intern_category(batch: &mut EventBatch, name: &str) -> u16 {
    if let Some(i) = batch.category_names.iter().position(|n| n == name) {
        return i as u16;
    }
    // Categories are a small closed vocabulary in ECS; a stream that exceeds
    // u16 distinct values folds the excess into the last slot.
    let id = batch.category_names.len().min(u16::MAX as usize) as u16;
    if (id as usize) == batch.category_names.len() {
        batch.category_names.push(name.to_string());
    }
    id
}

fn natural_scalar(value: &BorrowedValue<'_>) -> ScalarType {
    match value {
        BorrowedValue::Static(StaticNode::I64(_)) => ScalarType::I64,
        BorrowedValue::Static(StaticNode::U64(n)) if *n <= i64::MAX as u64 => ScalarType::I64,
        BorrowedValue::Static(StaticNode::U64(_)) => ScalarType::U64,
        BorrowedValue::Static(StaticNode::F64(_)) => ScalarType::F64,
        BorrowedValue::Static(StaticNode::Bool(_)) => ScalarType::Bool,
        _ => ScalarType::String,
    }
}

/// Convert a JSON scalar to a stored value of type `target`, coercing where
/// Elasticsearch would (numeric strings into number fields, numbers into
/// keyword fields) and refusing where it would reject the document.
fn coerce(
    batch: &mut EventBatch,
    value: &BorrowedValue<'_>,
    target: ScalarType,
    max_string: usize,
) -> Result<Value, Reject> {
    use ScalarType as T;
    let wrong = |what: &str| Reject::WrongType(format!("expected {target}, got {what}"));
    let v = match (target, value) {
        (T::I64, BorrowedValue::Static(StaticNode::I64(n))) => Value::I64(*n),
        (T::I64, BorrowedValue::Static(StaticNode::U64(n))) => {
            Value::I64(i64::try_from(*n).map_err(|_| wrong("an integer above i64 range"))?)
        }
        (T::I64, BorrowedValue::Static(StaticNode::F64(x))) if x.fract() == 0.0 && x.abs() < 9.2e18 => {
            Value::I64(*x as i64)
        }
        (T::I64, BorrowedValue::String(s)) => {
            Value::I64(s.trim().parse().map_err(|_| wrong(&format!("the string {:?}", trunc(s))))?)
        }
        (T::U64, BorrowedValue::Static(StaticNode::U64(n))) => Value::U64(*n),
        (T::U64, BorrowedValue::Static(StaticNode::I64(n))) => {
            Value::U64(u64::try_from(*n).map_err(|_| wrong("a negative integer"))?)
        }
        (T::U64, BorrowedValue::String(s)) => {
            Value::U64(s.trim().parse().map_err(|_| wrong(&format!("the string {:?}", trunc(s))))?)
        }
        (T::F64, BorrowedValue::Static(StaticNode::F64(x))) => Value::F64(*x),
        (T::F64, BorrowedValue::Static(StaticNode::I64(n))) => Value::F64(*n as f64),
        (T::F64, BorrowedValue::Static(StaticNode::U64(n))) => Value::F64(*n as f64),
        (T::F64, BorrowedValue::String(s)) => {
            Value::F64(s.trim().parse().map_err(|_| wrong(&format!("the string {:?}", trunc(s))))?)
        }
        (T::Bool, BorrowedValue::Static(StaticNode::Bool(b))) => Value::Bool(*b),
        (T::Bool, BorrowedValue::String(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
        (T::String | T::Ip | T::Bytes | T::Timestamp | T::Unknown, v) => {
            let text = scalar_text(v).ok_or_else(|| wrong(value_kind(v)))?;
            if text.len() > max_string {
                return Err(Reject::TooLong(text.len()));
            }
            Value::Str(batch.intern(&text)?)
        }
        (_, v) => return Err(wrong(value_kind(v))),
    };
    Ok(v)
}

/// The text of a scalar, as Elasticsearch indexes it into a keyword field.
fn scalar_text<'v>(value: &'v BorrowedValue<'_>) -> Option<Cow<'v, str>> {
    Some(match value {
        BorrowedValue::String(s) => Cow::Borrowed(s.as_ref()),
        BorrowedValue::Static(StaticNode::I64(n)) => Cow::Owned(n.to_string()),
        BorrowedValue::Static(StaticNode::U64(n)) => Cow::Owned(n.to_string()),
        BorrowedValue::Static(StaticNode::F64(x)) => Cow::Owned(x.to_string()),
        BorrowedValue::Static(StaticNode::Bool(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
        _ => return None,
    })
}

fn value_kind(value: &BorrowedValue<'_>) -> &'static str {
    match value {
        BorrowedValue::Static(StaticNode::Null) => "null",
        BorrowedValue::Static(StaticNode::Bool(_)) => "a boolean",
        BorrowedValue::Static(_) => "a number",
        BorrowedValue::String(_) => "a string",
        BorrowedValue::Array(_) => "an array",
        BorrowedValue::Object(_) => "an object",
    }
}

fn trunc(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn short_json(value: &BorrowedValue<'_>) -> String {
    let text = value.encode();
    trunc(&text).to_string()
}

fn json_error_message(err: &simd_json::Error, line: &[u8]) -> String {
    let col = err.index().min(line.len());
    format!("invalid JSON at column {}: {:?}", col + 1, err.error())
}

