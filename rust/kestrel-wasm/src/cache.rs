//! The AOT cache: compiled modules serialised to disk, so a second load
//! skips Cranelift entirely.
//!
//! Deserialising compiled code runs it as native code, so an entry must be
//! exactly what this process would have compiled from this module. Each
//! entry is `MAGIC | module hash | engine key | blake3(all before) +
//! payload | payload`: the module's BLAKE3 and the engine's compatibility
//! key (wasmtime version, settings, CPU features) are inside the checksummed
//! header and compared with the module being loaded, so an entry copied
//! over another module's name is refused, as is a truncated or altered one.
//! The checksum guards against damage, not against someone who can write
//! the directory; that is what ownership and permissions are for: the
//! directory is the user's alone (0700), and an entry must be a regular
//! file of the same user that nobody else may write. Anything else is
//! deleted or ignored, and the module compiled afresh.

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"KSTRWC02";
const HEADER: usize = 8 + 32 + 32 + 32;

/// How a module was obtained, for reporting cold-start costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (no cache configured, or the directory is unusable).
    Compiled,
    /// Compiled now and stored.
    Stored,
    /// Loaded from the cache.
    Hit,
    /// A bad entry was found, removed and rebuilt.
    Rebuilt,
}

pub struct AotCache {
    dir: PathBuf,
}

/// What identifies an entry: the module and the engine that compiled it.
struct EntryKey {
    module: [u8; 32],
    engine: [u8; 32],
}

impl EntryKey {
    fn of(engine: &Engine, wasm: &[u8]) -> EntryKey {
        let mut compat = blake3::Hasher::new();
        std::hash::Hash::hash(
            &engine.precompile_compatibility_hash(),
            &mut HashInto(&mut compat),
        );
        EntryKey {
            module: *blake3::hash(wasm).as_bytes(),
            engine: *compat.finalize().as_bytes(),
        }
    }

    fn file_name(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        format!(
            "{}-{}.cwasm",
            hex(&self.module[..16]),
            hex(&self.engine[..8])
        )
    }
}

/// Feeds `Hash` output into BLAKE3, so the compatibility key is the same
/// in every process (std's default hasher is seeded per process).
struct HashInto<'a>(&'a mut blake3::Hasher);

impl std::hash::Hasher for HashInto<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl AotCache {
    pub fn new(dir: PathBuf) -> Self {
        AotCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Load `wasm` compiled, from the cache when a valid entry exists.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<(Module, CacheOutcome)> {
        let key = EntryKey::of(engine, wasm);
        if private_dir(&self.dir).is_err() {
            // A directory someone else controls is never read or written.
            return Ok((Module::new(engine, wasm)?, CacheOutcome::Compiled));
        }
        let path = self.dir.join(key.file_name());
        let mut outcome = CacheOutcome::Stored;
        match read_own_file(&path) {
            Ok(Some(bytes)) => {
                if let Some(payload) = verified_payload(&bytes, &key) {
                    // SAFETY: the payload is byte-for-byte what
                    // `Module::serialize` wrote for this module and this
                    // engine configuration (checked above), in a file only
                    // this user can have written.
                    if let Ok(module) = unsafe { Module::deserialize(engine, payload) } {
                        return Ok((module, CacheOutcome::Hit));
                    }
                }
                outcome = CacheOutcome::Rebuilt;
                let _ = std::fs::remove_file(&path);
            }
            Ok(None) => {}
            Err(_) => {
                // Not ours, or not a regular file: replaced below by our own.
                outcome = CacheOutcome::Rebuilt;
                let _ = std::fs::remove_file(&path);
            }
        }
        let module = Module::new(engine, wasm)?;
        if self.store(&path, &key, &module.serialize()?).is_err() {
            // A read-only or full cache directory only costs the next load
            // a compilation; it is not an error.
            return Ok((module, CacheOutcome::Compiled));
        }
        Ok((module, outcome))
    }

    fn store(&self, path: &Path, key: &EntryKey, payload: &[u8]) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(payload.len() + HEADER);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&key.module);
        bytes.extend_from_slice(&key.engine);
        let sum = checksum(&bytes, payload);
        bytes.extend_from_slice(&sum);
        bytes.extend_from_slice(payload);
        // Write then rename, so a concurrent reader never sees half an entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp); // left by a process that died mid-write
        write_private(&tmp, &bytes)?;
        std::fs::rename(&tmp, path)
    }
}

fn checksum(header: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(header);
    h.update(payload);
    *h.finalize().as_bytes()
}

fn verified_payload<'a>(bytes: &'a [u8], key: &EntryKey) -> Option<&'a [u8]> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let (header, rest) = bytes.split_at(HEADER - 32);
    let (sum, payload) = rest.split_at(32);
    let ours = header[8..40] == key.module && header[40..72] == key.engine;
    (ours && checksum(header, payload) == sum).then_some(payload)
}

#[cfg(unix)]
mod private {
    use std::fs::{DirBuilder, File, OpenOptions};
    use std::io::{Read, Write};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    fn refuse(why: &str) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_string())
    }

    fn me() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// Create the directory 0700, or check that an existing one is this
    /// user's (then it is narrowed to 0700: its entries are checked one by
    /// one anyway).
    pub fn private_dir(dir: &Path) -> std::io::Result<()> {
        if let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != me() {
            return Err(refuse("the cache directory is not this user's"));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// The file's bytes; `None` when there is none; an error when it is a
    /// link, not a regular file, another user's, or writable by others.
    pub fn read_own_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() || meta.uid() != me() || meta.mode() & 0o022 != 0 {
            return Err(refuse("the cache entry is not this user's own file"));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        file.write_all(bytes)
    }
}

#[cfg(not(unix))]
mod private {
    use std::path::Path;

    pub fn private_dir(dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    pub fn read_own_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(path, bytes)
    }
}

use private::{private_dir, read_own_file, write_private};
