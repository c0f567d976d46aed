//! Host API v1 handles for native callers: the C function table's address,
//! and per-rule contexts holding compiled literals, patterns and sets.

use kestrel_host::{HostContext, RuleConstants, HOST_API_V1};
use pyo3::prelude::*;

use crate::errors::host_error;

/// A rule's host context: the constants its predicates address by id, and
/// the events it emitted with `alert_emit`.
///
/// `globs`, `regexes` and `sets` are lists of `(patterns_or_items, case_insensitive)`.
#[pyclass(module = "kestrel._core", name = "HostContext")]
pub struct PyHostContext {
    // Boxed so its address stays fixed for FFI callers. Not frozen, so
    // that `IrProgram.attach` can set the context's node evaluator.
    pub(crate) inner: Box<HostContext>,
}

// SAFETY: the context's emit buffer is a RefCell, so it must not be used
// from two threads at once. Python code reaches it only through methods
// that hold the GIL, and native callers get its address only for the
// duration of a batch evaluation on one thread.
unsafe impl Sync for PyHostContext {}

#[pymethods]
impl PyHostContext {
    #[new]
    #[pyo3(signature = (literals=Vec::new(), globs=Vec::new(), regexes=Vec::new(), sets=Vec::new()))]
    fn new(
        literals: Vec<String>,
        globs: Vec<(Vec<String>, bool)>,
        regexes: Vec<(String, bool)>,
        sets: Vec<(Vec<String>, bool)>,
    ) -> PyResult<Self> {
        let mut c = RuleConstants::default();
        for l in &literals {
            c.add_literal(l);
        }
        for (patterns, ci) in &globs {
            let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
            c.add_globs(&refs, *ci);
        }
        for (pattern, ci) in &regexes {
            c.add_regex(pattern, *ci).map_err(host_error)?;
        }
        for (items, ci) in &sets {
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            c.add_set(&refs, *ci);
        }
        Ok(PyHostContext {
            inner: Box::new(HostContext::new(c)),
        })
    }

    /// `(filter, event)` pairs passed to `match_emit` since the last call.
    fn take_matches(&self) -> Vec<(u32, u32)> {
        self.inner.take_matches()
    }

    /// Event indexes passed to `alert_emit` since the last call.
    fn take_emitted(&self) -> Vec<u32> {
        self.inner.take_emitted()
    }

    /// The context's address, the first argument of the C ABI's string and
    /// pattern operations. Valid while this object is alive.
    fn _address(&self) -> usize {
        &*self.inner as *const HostContext as usize
    }
}

/// The address of the Host API v1 C function table (`struct HostApiV1` in
/// `rules/README.md`), for LuaJIT FFI and ctypes.
#[pyfunction]
pub fn host_api_v1_address() -> usize {
    &HOST_API_V1 as *const _ as usize
}

/// Host API v1's C table, field by field: (name, C declaration), in order.
#[pyfunction]
pub fn host_api_v1_fields() -> Vec<(&'static str, &'static str)> {
    kestrel_host::HOST_API_V1_FIELDS.to_vec()
}

/// Host API v1's Wasm imports from module `"kestrel"`: (name, signature).
#[pyfunction]
pub fn wasm_imports() -> Vec<(&'static str, &'static str)> {
    kestrel_wasm::WASM_IMPORTS.to_vec()
}

/// The imports a module's leaf table may name, by kind code (the index).
#[pyfunction]
pub fn wasm_leaf_kinds() -> Vec<&'static str> {
    kestrel_wasm::LEAF_KINDS.to_vec()
}
