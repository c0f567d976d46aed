//! Kestrel's Wasm runtime: rule modules run by the `wasmtime` crate inside
//! the core, with Host API v1 served by Rust closures over the current batch.
//!
//! A batch evaluation is one host→Wasm call when the module exports
//! `pred_eval_batch`; the module then loops over events itself and reports
//! matches through `match_emit`. Runaway rules are stopped by epoch
//! interruption, memory is capped per instance, and a rule that keeps
//! failing is quarantined while the others carry on.

mod cache;
mod config;
mod engine;
mod error;
mod host;
mod leaves;
mod rule;

pub use cache::{AotCache, CacheOutcome};
pub use config::{default_cache_dir, RuleLimits, EPOCH_TICK_MS};
pub use engine::{runtime, MAX_MEMORY_BYTES};
pub use error::WasmError;
pub use host::WASM_IMPORTS;
pub use leaves::{DeclaredLeaf, Leaf, LeafTable, LEAF_KINDS};
pub use rule::{events_of_category, BatchScope, LoadReport, RuleHealth, RuleSource, WasmRule};

/// Compile WAT text to a validated binary module.
pub fn wat_to_wasm(text: &str) -> Result<Vec<u8>, WasmError> {
    let wasm = wat::parse_str(text).map_err(|e| WasmError::Compile(e.to_string()))?;
    wasmtime::Module::validate(&runtime().engine, &wasm)
        .map_err(|e| WasmError::Compile(format!("{e:#}")))?;
    Ok(wasm)
}

/// The wasmtime version this core embeds, for cache keys and reports.
pub const WASMTIME_VERSION: &str = "48";
