//! Kestrel's event model: the columnar [`EventBatch`] and its ECS JSON decoder.
//!
//! A batch stores N events column by column, with one string arena, per-event
//! metadata (timestamp, categories, entity key, source line, ingest sequence)
//! and the original JSON of every event, so alerts can carry the evidence
//! exactly as it was sent.

mod batch;
mod builder;
pub mod bytes;
pub mod chunks;
mod decode;
mod dedup;
mod errors;
pub mod json;
mod partition;
mod paths;
pub mod time;

pub use batch::{Column, ColumnData, EventBatch, Span, Value, ValueRef, NO_TIMESTAMP};
pub use decode::{DecodeOptions, Decoder, SourceInfo, UNSERIALISABLE};
pub use errors::{IngestErrorKind, IngestErrorRecord};
pub use partition::{crc32, partition_of, partition_rows, Partitions};
pub use time::TimeUnit;
