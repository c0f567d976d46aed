//! The columnar event store: one typed column per field present in a batch,
//! validity bits, and every string of the batch in one arena.

use std::sync::Arc;

use kestrel_schema::{FieldId, FieldType};

use crate::errors::IngestErrorRecord;

/// A byte range in a batch's string arena. u32 keeps columns compact; the
/// builder refuses batches whose arena would outgrow it.
///
/// The top bit of `len` records that the text is not pure ASCII. Knowing
/// that from the dense column alone lets case-insensitive equality reject a
/// length mismatch without touching the string's bytes, which for a large
/// batch are a cache miss away.
/// `repr(C)`: Host API v1's `column_str` hands a column of spans to native
/// callers as pairs of `uint32_t` (offset, then length with the flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Span {
    pub off: u32,
    pub len: u32,
}

const NON_ASCII: u32 = 1 << 31;

impl Span {
    pub fn new(off: u32, len: u32, ascii: bool) -> Span {
        Span {
            off,
            len: if ascii { len } else { len | NON_ASCII },
        }
    }

    #[inline]
    pub fn byte_len(self) -> usize {
        (self.len & !NON_ASCII) as usize
    }

    #[inline]
    pub fn is_ascii(self) -> bool {
        self.len & NON_ASCII == 0
    }
}

/// One element of a list column (arrays, and auto-typed fields whose values
/// disagreed in type, which are kept losslessly rather than dropped).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Null,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(Span),
}

/// The storage of one column; `len` equals the batch's event count.
#[derive(Debug)]
pub enum ColumnData {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Str(Vec<Span>),
    /// Event `i` owns `items[offsets[i]..offsets[i + 1]]`.
    List {
        offsets: Vec<u32>,
        items: Vec<Value>,
    },
}

/// A borrowed view of one event's value in one column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
    List(&'a [Value]),
}

#[derive(Debug)]
pub struct Column {
    pub field: FieldId,
    pub ty: FieldType,
    pub(crate) valid: Vec<u64>,
    pub(crate) data: ColumnData,
    /// Whether equal texts of this column share one span (see `dedup`).
    pub(crate) deduplicated: bool,
}

impl Column {
    #[inline]
    pub fn is_valid(&self, ev: usize) -> bool {
        self.valid
            .get(ev >> 6)
            .is_some_and(|w| w >> (ev & 63) & 1 == 1)
    }

    pub fn data(&self) -> &ColumnData {
        &self.data
    }

    /// One bit per event, little-endian within each word; events past the
    /// last word are not valid.
    pub fn validity(&self) -> &[u64] {
        &self.valid
    }

    /// True when equal texts of this column share one span, so within the
    /// column a text is identified by its offset alone.
    pub fn is_deduplicated(&self) -> bool {
        self.deduplicated
    }
}

/// A batch of events stored column by column.
#[derive(Debug, Default)]
pub struct EventBatch {
    pub(crate) len: usize,
    pub(crate) arena: Vec<u8>,
    pub(crate) columns: Vec<Column>,
    /// Column index by FieldId; `u32::MAX` where the batch has no column.
    pub(crate) column_of: Vec<u32>,
    /// Shared so evidence can outlive the batch without a copy (see `raw_buffer`).
    pub(crate) raw: Arc<Vec<u8>>,
    pub(crate) raw_spans: Vec<Span>,
    /// Epoch nanoseconds; `i64::MIN` when the event had no usable timestamp.
    pub(crate) timestamps: Vec<i64>,
    /// The latest of `timestamps` (None when no event has one).
    pub(crate) newest: Option<i64>,
    /// Event `i`'s categories are `category_ids[category_offsets[i]..category_offsets[i+1]]`,
    /// indexes into `category_names` (interned per batch).
    pub(crate) category_offsets: Vec<u32>,
    pub(crate) category_ids: Vec<u16>,
    pub(crate) category_names: Vec<String>,
    /// Per interned category, its events in ascending order: kept by the
    /// decoder as it goes, so no rule scans the batch for its category.
    pub(crate) category_lists: Vec<Vec<u32>>,
    pub(crate) entity_keys: Vec<Option<Span>>,
    pub(crate) lines: Vec<u32>,
    pub(crate) first_seq: u64,
    pub(crate) source: String,
    pub(crate) errors: Vec<IngestErrorRecord>,
    pub(crate) lines_read: u64,
}

/// Marks a missing timestamp in [`EventBatch::timestamp`].
pub const NO_TIMESTAMP: i64 = i64::MIN;

impl EventBatch {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn column(&self, field: FieldId) -> Option<&Column> {
        let idx = *self.column_of.get(field as usize)?;
        self.columns.get(idx as usize)
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The bytes every text of the batch points into (valid UTF-8 at each
    /// span's boundaries).
    pub fn arena(&self) -> &[u8] {
        &self.arena
    }

    #[inline]
    pub fn text(&self, span: Span) -> &str {
        let start = span.off as usize;
        let bytes = &self.arena[start..start + span.byte_len()];
        // SAFETY: the builder only ever appends valid UTF-8 to the arena and
        // spans are created at the boundaries of what it appended.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The value of `field` in event `ev`, without conversion.
    #[inline]
    pub fn value(&self, ev: usize, field: FieldId) -> ValueRef<'_> {
        let Some(col) = self.column(field) else {
            return ValueRef::Null;
        };
        if !col.is_valid(ev) {
            return ValueRef::Null;
        }
        match &col.data {
            ColumnData::I64(v) => ValueRef::I64(v[ev]),
            ColumnData::U64(v) => ValueRef::U64(v[ev]),
            ColumnData::F64(v) => ValueRef::F64(v[ev]),
            ColumnData::Bool(v) => ValueRef::Bool(v[ev]),
            ColumnData::Str(v) => ValueRef::Str(self.text(v[ev])),
            ColumnData::List { offsets, items } => {
                ValueRef::List(&items[offsets[ev] as usize..offsets[ev + 1] as usize])
            }
        }
    }

    /// The arena span of a plain (non-list) string value, without reading it.
    #[inline]
    pub fn str_span(&self, ev: usize, field: FieldId) -> Option<Span> {
        let col = self.column(field)?;
        match &col.data {
            ColumnData::Str(v) if col.is_valid(ev) => Some(v[ev]),
            _ => None,
        }
    }

    /// The bytes of a span.
    #[inline]
    pub fn span_bytes(&self, span: Span) -> &[u8] {
        &self.arena[span.off as usize..span.off as usize + span.byte_len()]
    }

    /// Resolve a list element to a value view.
    #[inline]
    pub fn element(&self, item: &Value) -> ValueRef<'_> {
        match *item {
            Value::Null => ValueRef::Null,
            Value::I64(x) => ValueRef::I64(x),
            Value::U64(x) => ValueRef::U64(x),
            Value::F64(x) => ValueRef::F64(x),
            Value::Bool(x) => ValueRef::Bool(x),
            Value::Str(s) => ValueRef::Str(self.text(s)),
        }
    }

    /// The buffer holding every event's original JSON, shared.
    pub fn raw_shared(&self) -> &Arc<Vec<u8>> {
        &self.raw
    }

    /// The buffer holding every event's original JSON, and event `ev`'s
    /// `(offset, length)` in it: a consumer that must keep an event's JSON
    /// beyond the batch (sequence evidence) shares the buffer instead of copying.
    pub fn raw_buffer(&self, ev: usize) -> (&Arc<Vec<u8>>, u32, u32) {
        let s = self.raw_spans[ev];
        (&self.raw, s.off, s.byte_len() as u32)
    }

    /// The original JSON text of event `ev`, exactly as it was received.
    pub fn raw(&self, ev: usize) -> &[u8] {
        let s = self.raw_spans[ev];
        &self.raw[s.off as usize..s.off as usize + s.byte_len()]
    }

    /// Epoch nanoseconds, or [`NO_TIMESTAMP`].
    #[inline]
    pub fn timestamp(&self, ev: usize) -> i64 {
        self.timestamps[ev]
    }

    /// The latest event time of the batch, if any event has one.
    pub fn newest_timestamp(&self) -> Option<i64> {
        self.newest
    }

    pub fn categories(&self, ev: usize) -> impl Iterator<Item = &str> {
        let ids = &self.category_ids
            [self.category_offsets[ev] as usize..self.category_offsets[ev + 1] as usize];
        ids.iter()
            .map(|&i| self.category_names[i as usize].as_str())
    }

    /// The batch's interned category names; [`EventBatch::category_ids`] index it.
    pub fn category_names(&self) -> &[String] {
        &self.category_names
    }

    pub fn category_ids(&self, ev: usize) -> &[u16] {
        &self.category_ids
            [self.category_offsets[ev] as usize..self.category_offsets[ev + 1] as usize]
    }

    /// The events whose categories include interned category `id`, among
    /// `among` (ascending indices) or else the whole batch.
    pub fn events_in_category(&self, id: u16, among: Option<&[u32]>) -> Vec<u32> {
        let Some(events) = among else {
            return self.category_events(id).to_vec();
        };
        events
            .iter()
            .copied()
            .filter(|&ev| (ev as usize) < self.len && self.category_ids(ev as usize).contains(&id))
            .collect()
    }

    /// The events whose categories include interned category `id`, in
    /// ascending order (empty for an id the batch lacks).
    pub fn category_events(&self, id: u16) -> &[u32] {
        self.category_lists
            .get(id as usize)
            .map_or(&[], Vec::as_slice)
    }

    pub fn entity_key(&self, ev: usize) -> Option<&str> {
        self.entity_keys[ev].map(|s| self.text(s))
    }

    /// The 1-based line of the source this event came from.
    pub fn line(&self, ev: usize) -> u32 {
        self.lines[ev]
    }

    /// The ingest sequence number: unique and increasing across a stream.
    pub fn seq(&self, ev: usize) -> u64 {
        self.first_seq + ev as u64
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Per-line problems met while decoding; see [`IngestErrorRecord`].
    pub fn errors(&self) -> &[IngestErrorRecord] {
        &self.errors
    }

    /// Input lines that did not become events (malformed or rejected).
    pub fn dropped(&self) -> usize {
        self.errors.iter().filter(|e| e.kind.drops_event()).count()
    }

    /// Non-blank input lines read, whether or not they became events.
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    /// Bytes held by the batch's buffers, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        let cols: usize = self
            .columns
            .iter()
            .map(|c| {
                c.valid.len() * 8
                    + match &c.data {
                        ColumnData::I64(v) => v.len() * 8,
                        ColumnData::U64(v) => v.len() * 8,
                        ColumnData::F64(v) => v.len() * 8,
                        ColumnData::Bool(v) => v.len(),
                        ColumnData::Str(v) => v.len() * 8,
                        ColumnData::List { offsets, items } => offsets.len() * 4 + items.len() * 16,
                    }
            })
            .sum();
        cols + self.arena.len() + self.raw.len() + self.len * 40
    }
}
