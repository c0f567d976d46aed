//! Kestrel's sequence and sample engine.
//!
//! A rule's step predicates run elsewhere (Wasm, Lua or the IR evaluator) and
//! report, per filter, which events of a batch passed. This crate takes those
//! lists and runs Elasticsearch's sequence semantics over them:
//!
//! * one state machine per join key, one pending partial match per state, a
//!   newer partial overwriting an older one, and an event never advancing two
//!   states of the same machine (states are visited last to first);
//! * `maxspan` measured from the first event, inclusive; `until` discarding a
//!   key's pending partials; `runs=n` as n consecutive positions;
//! * missing steps `![...]`: between two positive steps an event of the
//!   missing step discards the partial waiting for the next positive one;
//!   leading and trailing missing steps are checked against `maxspan`, and a
//!   trailing one is only decided when its window has closed (event time or
//!   [`SequenceMatcher::flush`]), never earlier;
//! * `sample by`: one distinct event per filter with equal keys.
//!
//! State lives in a [`store`] sharded by a hash of the join key. Each shard
//! has its own slot table, LRU list and expiry heap, so expiry costs
//! O(expired), and shards run in parallel threads within a batch.

pub mod codec;
mod evidence;
mod key;
mod matcher;
mod plan;
mod quota;
mod sample;
mod sequence;
mod snapshot;
mod stats;
pub mod store;

use thiserror::Error;

pub use key::{decode_key, encode_key, for_each_key, KeyValue, MAX_KEYS_PER_EVENT};
pub use matcher::{Config, EvRef, Match, RawRef, SequenceMatcher, StateBudget};
pub use plan::{Missing, Plan, MAX_FILTERS};
pub use stats::{Evictions, Stats};

/// Errors of the sequence engine.
#[derive(Debug, Error)]
pub enum SeqError {
    #[error("cannot run this rule as a sequence: {0}")]
    Plan(String),
    #[error("filter {filter} is out of range (the rule has {count})")]
    NoSuchFilter { filter: usize, count: usize },
    #[error("match list for filter {filter} names event {event}, but the batch has {len} events")]
    BadEvent {
        filter: usize,
        event: u32,
        len: usize,
    },
    #[error("bad snapshot at byte {offset}: {reason}")]
    Snapshot { offset: usize, reason: String },
}
