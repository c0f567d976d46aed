//! Repeated strings of a column stored once per batch.
//!
//! Most ECS string fields take a handful of values (`event.action`,
//! `host.os.type`, `process.name`). Storing each distinct text of a column
//! once makes a text's arena offset its identity within the column, so
//! consumers that group events by value (the rule index's dictionaries)
//! hash a number instead of re-reading every string from a cold arena, and
//! the arena itself stays smaller. The text is hashed here, while the
//! parser has it in cache.
//!
//! Columns where most values are new (command lines, paths) stop after a
//! probe: hashing them would buy nothing.

use hashbrown::HashTable;

use crate::batch::{EventBatch, Span};
use crate::builder::Reject;
use crate::bytes::same_bytes;

/// Values seen before a column's yield is judged.
const PROBE: u32 = 256;

struct ColumnDedup {
    /// The distinct texts stored so far, by hash.
    table: HashTable<Span>,
    /// The text stored or found last: consecutive events often repeat
    /// a value (same host, same action), and comparing is cheaper than hashing.
    last: Option<Span>,
    values: u32,
    fresh: u32,
    active: bool,
}

/// One batch's deduplication state, by column index.
#[derive(Default)]
pub(crate) struct Dedup {
    columns: Vec<ColumnDedup>,
    hasher: ahash::RandomState,
}

impl Dedup {
    /// The span of `text` in column `col`: an equal text's stored earlier,
    /// or a new one.
    // Inlined into the decoder's store path (see `decode::coerce`).
    #[inline(always)]
    pub fn intern(
        &mut self,
        batch: &mut EventBatch,
        col: usize,
        text: &str,
    ) -> Result<Span, Reject> {
        while self.columns.len() <= col {
            self.columns.push(ColumnDedup {
                table: HashTable::new(),
                last: None,
                values: 0,
                fresh: 0,
                active: true,
            });
        }
        let state = &mut self.columns[col];
        if !state.active {
            return batch.intern(text);
        }
        state.values += 1;
        if let Some(last) = state
            .last
            .filter(|&s| same_bytes(batch.span_bytes(s), text.as_bytes()))
        {
            return Ok(last);
        }
        let hasher = &self.hasher;
        let hash = hasher.hash_one(text.as_bytes());
        if let Some(&span) = state
            .table
            .find(hash, |&s| same_bytes(batch.span_bytes(s), text.as_bytes()))
        {
            state.last = Some(span);
            return Ok(span);
        }
        let span = batch.intern(text)?;
        state.fresh += 1;
        if state.values >= PROBE && state.fresh * 2 > state.values {
            // Mostly distinct: stop, and tell readers offsets no longer identify texts.
            state.active = false;
            state.table = HashTable::new();
            batch.columns[col].deduplicated = false;
            return Ok(span);
        }
        let arena = &batch.arena;
        let bytes = |s: &Span| &arena[s.off as usize..s.off as usize + s.byte_len()];
        state
            .table
            .insert_unique(hash, span, |s| hasher.hash_one(bytes(s)));
        state.last = Some(span);
        Ok(span)
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeOptions, Decoder, SourceInfo};
    use kestrel_schema::{FieldType, ScalarType, Schema};

    #[test]
    fn equal_texts_share_a_span_until_a_column_proves_mostly_distinct() {
        let schema = Schema::new("test", "1");
        let os = schema.declare("os", FieldType::scalar(ScalarType::String));
        let tags = schema.declare("tags", FieldType::array_of(ScalarType::String));
        let line = schema.declare("line", FieldType::scalar(ScalarType::String));
        let input: String = (0..600)
            .map(|i| {
                format!(
                    "{{\"os\":\"{}\",\"tags\":[\"a\",\"{}\"],\"line\":\"cmd {i}\"}}\n",
                    ["linux", "windows"][i % 2],
                    ["linux", "b"][i % 2]
                )
            })
            .collect();
        let batch = Decoder::new(schema, DecodeOptions::default())
            .decode(input.as_bytes(), &SourceInfo::default());
        assert_eq!(batch.len(), 600);
        let spans = |field| match batch.column(field).unwrap().data() {
            crate::ColumnData::Str(v) => v.clone(),
            other => panic!("{other:?}"),
        };
        let os_spans = spans(os);
        assert!(batch.column(os).unwrap().is_deduplicated());
        assert_eq!((os_spans[0], os_spans[1]), (os_spans[2], os_spans[3]));
        assert_ne!(os_spans[0], os_spans[1]);
        // Arrays too, per column: "linux" in tags is not os's span.
        assert!(batch.column(tags).unwrap().is_deduplicated());
        let tag = |ev: usize, i: usize| match batch.value(ev, tags) {
            crate::ValueRef::List(items) => items[i],
            other => panic!("{other:?}"),
        };
        assert_eq!(tag(0, 1), tag(2, 1));
        assert_ne!(tag(0, 1), crate::Value::Str(os_spans[0]));
        // Every command line differs: the column gives up, texts intact.
        assert!(!batch.column(line).unwrap().is_deduplicated());
        assert_eq!(batch.value(599, line), crate::ValueRef::Str("cmd 599"));
        assert_eq!(batch.value(1, os), crate::ValueRef::Str("windows"));
    }
}
