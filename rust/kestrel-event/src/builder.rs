//! Appending decoded values to a batch's columns, one event at a time.
//!
//! Columns are created lazily when a field is first met in a batch and padded
//! with nulls for the events that lacked it, so each event only pays for the
//! fields it has.

use kestrel_schema::{FieldId, FieldType, ScalarType};

use crate::batch::{Column, ColumnData, EventBatch, Span, Value};

/// Why a value could not be stored as its column's type.
pub(crate) enum Reject {
    WrongType(String),
    TooLong(usize),
    ArenaFull,
}

impl EventBatch {
    /// Append bytes to the arena and return their span.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> Result<Span, Reject> {
        let off = self.arena.len();
        let end = off + s.len();
        // Lengths keep their top bit for the ASCII flag (see Span).
        if end > u32::MAX as usize || s.len() >= 1 << 31 {
            return Err(Reject::ArenaFull);
        }
        self.arena.extend_from_slice(s.as_bytes());
        Ok(Span::new(off as u32, s.len() as u32, s.is_ascii()))
    }

    /// The index of `field`'s column, if the batch has one yet.
    #[inline]
    pub(crate) fn existing_column(&self, field: FieldId) -> Option<usize> {
        self.column_of
            .get(field as usize)
            .filter(|&&c| c != u32::MAX)
            .map(|&c| c as usize)
    }

    /// The column for `field`, created with `ty` if the batch has none yet.
    pub(crate) fn column_index(&mut self, field: FieldId, ty: FieldType, capacity: usize) -> usize {
        let slot = field as usize;
        if self.column_of.len() <= slot {
            self.column_of.resize(slot + 1, u32::MAX);
        }
        if self.column_of[slot] == u32::MAX {
            self.column_of[slot] = self.columns.len() as u32;
            self.columns.push(Column {
                field,
                ty,
                valid: Vec::with_capacity(capacity.div_ceil(64)),
                data: empty_data(ty, capacity),
                deduplicated: true,
            });
        }
        self.column_of[slot] as usize
    }
}

/// Columns are pre-sized for the batch's expected event count.
fn empty_data(ty: FieldType, capacity: usize) -> ColumnData {
    if ty.array {
        return ColumnData::List {
            offsets: Vec::with_capacity(capacity + 1),
            items: Vec::with_capacity(capacity),
        };
    }
    match ty.scalar {
        ScalarType::I64 => ColumnData::I64(Vec::with_capacity(capacity)),
        ScalarType::U64 => ColumnData::U64(Vec::with_capacity(capacity)),
        ScalarType::F64 => ColumnData::F64(Vec::with_capacity(capacity)),
        ScalarType::Bool => ColumnData::Bool(Vec::with_capacity(capacity)),
        ScalarType::String
        | ScalarType::Ip
        | ScalarType::Bytes
        | ScalarType::Timestamp
        | ScalarType::DateNanos
        | ScalarType::Version => ColumnData::Str(Vec::with_capacity(capacity)),
        // A column is only created once a value fixed the type; a stray
        // unknown keeps values losslessly in list form.
        ScalarType::Unknown => ColumnData::List {
            offsets: Vec::new(),
            items: Vec::new(),
        },
    }
}

impl Column {
    fn set_valid(&mut self, ev: usize) {
        let word = ev >> 6;
        if self.valid.len() <= word {
            self.valid.resize(word + 1, 0);
        }
        self.valid[word] |= 1 << (ev & 63);
    }

    /// Pad with nulls up to event `ev` (exclusive), so the next write lands at `ev`.
    fn pad_to(&mut self, ev: usize) {
        match &mut self.data {
            ColumnData::I64(v) => v.resize(ev.max(v.len()), 0),
            ColumnData::U64(v) => v.resize(ev.max(v.len()), 0),
            ColumnData::F64(v) => v.resize(ev.max(v.len()), 0.0),
            ColumnData::Bool(v) => v.resize(ev.max(v.len()), false),
            ColumnData::Str(v) => v.resize(ev.max(v.len()), Span::default()),
            ColumnData::List { offsets, items } => {
                while offsets.len() < ev + 1 {
                    offsets.push(items.len() as u32);
                }
            }
        }
    }

    /// Close the column at `len` events.
    pub(crate) fn finish(&mut self, len: usize) {
        self.pad_to(len);
        if let ColumnData::List { offsets, items } = &mut self.data {
            offsets.truncate(len);
            offsets.push(items.len() as u32);
        }
        self.valid.resize(len.div_ceil(64), 0);
    }

    /// Store `value` for event `ev`. A scalar column that meets a value of
    /// another kind, or a second value for one event from an array of
    /// objects, turns into a list column so that nothing is lost.
    pub(crate) fn put(&mut self, ev: usize, value: Value, append: bool) {
        self.pad_to(ev);
        let fits = matches!(
            (&self.data, value),
            (ColumnData::I64(_), Value::I64(_))
                | (ColumnData::U64(_), Value::U64(_))
                | (ColumnData::F64(_), Value::F64(_))
                | (ColumnData::Bool(_), Value::Bool(_))
                | (ColumnData::Str(_), Value::Str(_))
                | (ColumnData::List { .. }, _)
        );
        let already_set = self.is_valid(ev);
        if !fits || (append && already_set && !matches!(self.data, ColumnData::List { .. })) {
            self.convert_to_list(ev);
        }
        self.set_valid(ev);
        let overwrite = |len: usize| len > ev;
        match (&mut self.data, value) {
            (ColumnData::I64(v), Value::I64(x)) => store(v, ev, x, overwrite(v.len())),
            (ColumnData::U64(v), Value::U64(x)) => store(v, ev, x, overwrite(v.len())),
            (ColumnData::F64(v), Value::F64(x)) => store(v, ev, x, overwrite(v.len())),
            (ColumnData::Bool(v), Value::Bool(x)) => store(v, ev, x, overwrite(v.len())),
            (ColumnData::Str(v), Value::Str(x)) => store(v, ev, x, overwrite(v.len())),
            (ColumnData::List { offsets, items }, value) => {
                // A repeated key in one object (not an array element)
                // replaces the earlier value, as JSON parsers agree on.
                if !append && offsets.len() == ev + 1 && items.len() > offsets[ev] as usize {
                    items.truncate(offsets[ev] as usize);
                }
                items.push(value)
            }
            _ => unreachable!("value kinds were reconciled above"),
        }
    }

    fn convert_to_list(&mut self, upto: usize) {
        let old = std::mem::replace(
            &mut self.data,
            ColumnData::List {
                offsets: Vec::new(),
                items: Vec::new(),
            },
        );
        let n = match &old {
            ColumnData::I64(v) => v.len(),
            ColumnData::U64(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Str(v) => v.len(),
            ColumnData::List { .. } => {
                self.data = old;
                return;
            }
        };
        let mut offsets = Vec::with_capacity(n.max(upto) + 1);
        let mut items = Vec::with_capacity(n);
        for ev in 0..n {
            offsets.push(items.len() as u32);
            if self.is_valid(ev) {
                items.push(match &old {
                    ColumnData::I64(v) => Value::I64(v[ev]),
                    ColumnData::U64(v) => Value::U64(v[ev]),
                    ColumnData::F64(v) => Value::F64(v[ev]),
                    ColumnData::Bool(v) => Value::Bool(v[ev]),
                    ColumnData::Str(v) => Value::Str(v[ev]),
                    ColumnData::List { .. } => unreachable!(),
                });
            }
        }
        self.data = ColumnData::List { offsets, items };
        self.pad_to(upto);
    }
}

fn store<T>(v: &mut Vec<T>, ev: usize, x: T, overwrite: bool) {
    if overwrite {
        v[ev] = x;
    } else {
        v.push(x);
    }
}
