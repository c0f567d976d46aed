//! The AOT cache: compiled modules serialised to disk, keyed by the module's
//! hash and the engine's compatibility (wasmtime version, settings, CPU
//! features), so a second load skips Cranelift entirely.
//!
//! Each entry is `MAGIC | blake3(payload) | payload`. Deserialising compiled
//! code trusts it, so a truncated or altered entry must never reach wasmtime:
//! the checksum is verified first, and a bad entry is deleted and rebuilt.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"KSTRWC01";

/// How a module was obtained, for reporting cold-start costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (no cache configured).
    Compiled,
    /// Compiled now and stored.
    Stored,
    /// Loaded from the cache.
    Hit,
    /// A corrupt entry was found, removed and rebuilt.
    Rebuilt,
}

pub struct AotCache {
    dir: PathBuf,
}

impl AotCache {
    pub fn new(dir: PathBuf) -> Self {
        AotCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = h.finish();
        let module_key = blake3::hash(wasm);
        self.dir.join(format!(
            "{}-{engine_key:016x}.cwasm",
            &module_key.to_hex()[..32]
        ))
    }

    /// Load `wasm` compiled, from the cache when a valid entry exists.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<(Module, CacheOutcome)> {
        let path = self.entry_path(engine, wasm);
        let mut outcome = CacheOutcome::Stored;
        if let Ok(bytes) = std::fs::read(&path) {
            match verified_payload(&bytes) {
                Some(payload) => {
                    // SAFETY: the payload is byte-for-byte what
                    // `Module::serialize` wrote for this engine configuration
                    // (checked by the checksum and the compatibility key).
                    if let Ok(module) = unsafe { Module::deserialize(engine, payload) } {
                        return Ok((module, CacheOutcome::Hit));
                    }
                    outcome = CacheOutcome::Rebuilt;
                }
                None => outcome = CacheOutcome::Rebuilt,
            }
            let _ = std::fs::remove_file(&path);
        }
        let module = Module::new(engine, wasm)?;
        if self.store(&path, &module.serialize()?).is_err() {
            // A read-only or full cache directory only costs the next load
            // a compilation; it is not an error.
            return Ok((module, CacheOutcome::Compiled));
        }
        Ok((module, outcome))
    }

    fn store(&self, path: &Path, payload: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut bytes = Vec::with_capacity(payload.len() + 40);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(blake3::hash(payload).as_bytes());
        bytes.extend_from_slice(payload);
        // Write then rename, so a concurrent reader never sees half an entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, path)
    }
}

fn verified_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, payload) = rest.split_at(32);
    (blake3::hash(payload).as_bytes() == sum).then_some(payload)
}
