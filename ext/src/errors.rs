//! The one place where Rust errors become Python exceptions.
//!
//! Every exception Kestrel raises derives from `KestrelError`; the Python
//! side re-exports these from `kestrel.errors` and adds the compiler's own.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _core,
    KestrelError,
    PyException,
    "Root of every error Kestrel raises."
);
create_exception!(
    _core,
    SchemaError,
    KestrelError,
    "A schema could not be loaded or extended."
);
create_exception!(_core, IngestError, KestrelError, "Events could not be read at all (an unreadable file, say). Per-line problems are records on the batch, not exceptions.");
create_exception!(
    _core,
    PatternError,
    KestrelError,
    "A regex or wildcard pattern could not be compiled."
);
create_exception!(
    _core,
    WasmRuleError,
    KestrelError,
    "A Wasm rule failed to load, trapped, timed out or is quarantined."
);
create_exception!(_core, IrError, KestrelError, "An IR document (`CompiledRule.ir_json()`) is malformed, of an unsupported version, or inconsistent.");
create_exception!(_core, SequenceError, KestrelError, "A sequence or sample rule could not be planned, was fed inconsistent match lists, or a snapshot could not be restored.");
create_exception!(
    _core,
    SnapshotError,
    KestrelError,
    "An engine snapshot is damaged, or was taken from another rule set or partition count."
);
create_exception!(
    _core,
    InternalError,
    KestrelError,
    "A bug in Kestrel's core: please report it with the input that caused it."
);

pub fn schema_error(e: kestrel_schema::SchemaError) -> PyErr {
    SchemaError::new_err(e.to_string())
}

pub fn host_error(e: kestrel_host::HostError) -> PyErr {
    PatternError::new_err(e.to_string())
}

pub fn ir_error(e: kestrel_ir::IrError) -> PyErr {
    IrError::new_err(e.to_string())
}

/// A rule's IR would not load into the index: the same error as loading it.
pub fn index_error(e: kestrel_index::IndexError) -> PyErr {
    IrError::new_err(e.to_string())
}

pub fn seq_error(e: kestrel_seq::SeqError) -> PyErr {
    SequenceError::new_err(e.to_string())
}

pub fn engine_error(e: kestrel_engine::EngineError) -> PyErr {
    match e {
        kestrel_engine::EngineError::Rule { .. } => WasmRuleError::new_err(e.to_string()),
        kestrel_engine::EngineError::Snapshot(_) => SnapshotError::new_err(e.to_string()),
        kestrel_engine::EngineError::NoPartition { .. } => {
            pyo3::exceptions::PyIndexError::new_err(e.to_string())
        }
        kestrel_engine::EngineError::Internal(_) => InternalError::new_err(e.to_string()),
    }
}

pub fn io_error(path: &std::path::Path, e: std::io::Error) -> PyErr {
    IngestError::new_err(format!("{}: {e}", path.display()))
}

/// Run core code so that a panic becomes `InternalError` instead of tearing
/// through the interpreter.
pub fn guarded<R>(what: &str, f: impl FnOnce() -> R) -> PyResult<R> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        InternalError::new_err(format!("{what}: {detail}"))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KestrelError", py.get_type::<KestrelError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("IngestError", py.get_type::<IngestError>())?;
    m.add("PatternError", py.get_type::<PatternError>())?;
    m.add("IrError", py.get_type::<IrError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("WasmRuleError", py.get_type::<WasmRuleError>())?;
    m.add("SequenceError", py.get_type::<SequenceError>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    Ok(())
}
