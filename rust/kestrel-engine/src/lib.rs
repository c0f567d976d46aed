//! Kestrel's engine loop, in the core: the loaded rule set, per-partition
//! state, evaluation in parallel threads, `| head`/`| tail` pipes,
//! deduplication, alert rendering to JSON lines, counters and checkpoints.
//!
//! The Python shell makes one call per batch ([`Pipeline::process`]); no
//! per-event or per-alert work happens outside this crate, except for rules
//! evaluated outside the core (Lua), whose matches come in with the call.

mod dedup;
mod partitions;
mod pipeline;
mod pipes;
mod render;
mod rule;
mod snapshot;
mod stats;
pub mod threads;

pub use dedup::Dedup;
pub use pipeline::{ExternalMatches, Output, Pipeline, PipelineConfig, RuleSet, Scope, Timings};
pub use pipes::{PipeOp, Pipes, StageStats};
pub use render::{captures_object, iso8601_millis, Alert, FieldKeys, Order};
pub use rule::{AlertKind, Evaluator, Rule, RuleCounters, RuleSpec};
pub use snapshot::SNAPSHOT_VERSION;
pub use stats::StateStats;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("rule {rule}: {message}")]
    Rule { rule: String, message: String },
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("partition {partition} out of range: the engine has {partitions}")]
    NoPartition { partition: usize, partitions: usize },
    #[error("{0}")]
    Internal(String),
}
