//! Errors of the Wasm runtime.

/// Why a module could not be loaded, or an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error("invalid module: {0}")]
    Compile(String),
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    #[error("module ABI: {0}")]
    Abi(String),
    #[error("pred_init returned {0}")]
    InitFailed(i32),
    #[error("rule trapped: {0}")]
    Trap(String),
    #[error("rule exceeded its time limit of {0} ms")]
    Timeout(u64),
    #[error("rule is quarantined after {failures} failures; last: {last}")]
    Quarantined { failures: u32, last: String },
    #[error("no filter {0} in this module")]
    NoSuchFilter(u32),
    #[error("rule returned a bad result: {0}")]
    BadResult(String),
}
