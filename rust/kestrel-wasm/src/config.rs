//! Per-rule limits and runtime settings.

use std::path::PathBuf;

/// Limits applied to each rule instance.
#[derive(Clone, Debug)]
pub struct RuleLimits {
    /// Linear memory a rule may grow to.
    pub memory_bytes: usize,
    /// Wall-clock bound on one batch evaluation, enforced by epoch
    /// interruption (the epoch ticks every [`EPOCH_TICK_MS`] ms).
    pub time_limit_ms: u64,
    /// Failures (traps, timeouts) after which the rule is quarantined.
    pub quarantine_after: u32,
}

impl Default for RuleLimits {
    fn default() -> Self {
        RuleLimits {
            memory_bytes: 16 << 20,
            time_limit_ms: 1000,
            quarantine_after: 3,
        }
    }
}

/// Epoch interruption granularity. Coarse on purpose: the check compiled
/// into loops only compares a counter, and a millisecond is far below any
/// useful time limit.
pub const EPOCH_TICK_MS: u64 = 1;

/// Where compiled modules are cached: `$KESTREL_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kestrel/wasm`, else `~/.cache/kestrel/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KESTREL_CACHE_DIR") {
        return Some(PathBuf::from(dir).join("wasm"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("kestrel").join("wasm"))
}
