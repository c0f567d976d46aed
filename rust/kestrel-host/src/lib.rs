//! Host API v1: what rule code (Wasm or Lua) may ask of the engine.
//!
//! Two ways in, with one implementation behind them:
//! - plain Rust functions in [`ops`], for the Wasm host;
//! - the `extern "C"` table [`HOST_API_V1`], for LuaJIT's FFI.

mod cabi;
mod constants;
mod context;
pub mod fold;
mod glob;
pub mod ops;
mod teddy;

pub use cabi::{HostApiV1, ABI_VERSION, HOST_API_V1, HOST_API_V1_FIELDS};
pub use constants::{compile_regex, compile_regex_any, Literal, RuleConstants, StrSet};
pub use context::{HostContext, NodeEvaluator};
pub use glob::{Glob, GlobSet};

/// Errors raised while preparing a rule's constants.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid regex {pattern:?}: {reason}")]
    BadRegex { pattern: String, reason: String },
}

/// A seeded xorshift for tests that generate texts: `next(n)` picks a
/// number below `n`.
#[cfg(test)]
fn picker(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}
