//! `kestrel._core.WasmRule`: a rule module run by wasmtime inside the core.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kestrel_host::{HostContext, RuleConstants};
use kestrel_wasm::{AotCache, RuleLimits, RuleSource, WasmError, WasmRule};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::batch::{value_to_py, PyEventBatch};
use crate::errors::{guarded, host_error, ir_error, WasmRuleError};
use crate::matches::PyMatches;
use crate::schema::PySchema;

/// A panic while the lock was held is already reported as InternalError;
/// the rule's state is plain data, so keep using it.
fn lock(m: &Mutex<WasmRule>) -> std::sync::MutexGuard<'_, WasmRule> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wasm_error(rule: &str, e: WasmError) -> PyErr {
    WasmRuleError::new_err(format!("rule {rule}: {e}"))
}

/// A loaded Wasm rule: one module instance with its own store, memory cap,
/// time limit and failure count.
///
/// `module` is a binary module or WAT text. `fields` is the package's field
/// table (local id → dotted path), resolved against `schema`. The constant
/// tables are what the module's literal, glob, regex and set ids index.
#[pyclass(module = "kestrel._core", name = "WasmRule")]
pub struct PyWasmRule {
    // A store is driven by one thread at a time; the lock makes concurrent
    // Python callers queue instead of racing.
    // Shared with the engine pipeline, whose partition 0 runs this instance.
    pub(crate) inner: Arc<Mutex<WasmRule>>,
    rule_id: String,
    schema: PySchema,
    cache: &'static str,
}

#[pymethods]
impl PyWasmRule {
    #[new]
    #[pyo3(signature = (module, *, rule_id, schema, fields=Vec::new(), literals=Vec::new(), globs=Vec::new(),
        regexes=Vec::new(), sets=Vec::new(), categories=Vec::new(), ir_json=None, memory_limit=16777216, time_limit_ms=1000, quarantine_after=3,
        cache_dir=None, use_cache=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        module: Vec<u8>,
        rule_id: String,
        schema: PySchema,
        fields: Vec<String>,
        literals: Vec<String>,
        globs: Vec<(Vec<String>, bool)>,
        regexes: Vec<(Vec<String>, bool)>,
        sets: Vec<(Vec<String>, bool)>,
        categories: Vec<Option<String>>,
        ir_json: Option<String>,
        memory_limit: usize,
        time_limit_ms: u64,
        quarantine_after: u32,
        cache_dir: Option<PathBuf>,
        use_cache: bool,
    ) -> PyResult<Self> {
        let mut constants = RuleConstants::default();
        for l in &literals {
            constants.add_literal(l);
        }
        for (patterns, ci) in &globs {
            constants.add_globs(
                &patterns.iter().map(String::as_str).collect::<Vec<_>>(),
                *ci,
            );
        }
        for (patterns, ci) in &regexes {
            let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
            constants.add_regex_any(&refs, *ci).map_err(host_error)?;
        }
        for (items, ci) in &sets {
            constants.add_set(&items.iter().map(String::as_str).collect::<Vec<_>>(), *ci);
        }
        // An empty path marks an unused local id (package tables may have gaps).
        let field_map = fields
            .iter()
            .map(|p| {
                if p.is_empty() {
                    u32::MAX
                } else {
                    schema.inner.resolve(p).id
                }
            })
            .collect();
        let limits = RuleLimits {
            memory_bytes: memory_limit,
            time_limit_ms,
            quarantine_after,
        };
        let cache = if use_cache {
            cache_dir
                .or_else(kestrel_wasm::default_cache_dir)
                .map(AotCache::new)
        } else {
            None
        };
        let mut ctx = HostContext::new(constants);
        if let Some(json) = ir_json {
            // The core's IR evaluator serves `eval_node` for the subtrees the
            // generated code delegates.
            let program = kestrel_ir::Program::from_json(&json, &schema.inner).map_err(ir_error)?;
            ctx.evaluator = Some(std::sync::Arc::new(program));
        }
        let src = RuleSource {
            module: &module,
            ctx,
            field_map,
            field_paths: fields,
            filter_categories: categories,
        };
        let loaded = py.detach(|| {
            guarded("loading a wasm rule", || {
                WasmRule::load(src, limits, cache.as_ref())
            })
        })?;
        let inner = loaded.map_err(|e| wasm_error(&rule_id, e))?;
        let cache = match inner.load_report().cache {
            kestrel_wasm::CacheOutcome::Compiled => "compiled",
            kestrel_wasm::CacheOutcome::Stored => "stored",
            kestrel_wasm::CacheOutcome::Hit => "hit",
            kestrel_wasm::CacheOutcome::Rebuilt => "rebuilt",
        };
        Ok(PyWasmRule {
            inner: Arc::new(Mutex::new(inner)),
            rule_id,
            schema,
            cache,
        })
    }

    /// Indices of the events of `batch` that pass filter `filter` (0 for an
    /// event rule; steps then `until` for sequences). With `candidates`
    /// (ascending, from `RuleIndex.candidates`) only those events are
    /// evaluated (those of them in the filter's category). Releases the GIL.
    #[pyo3(signature = (batch, filter=0, candidates=None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        batch: &PyEventBatch,
        filter: u32,
        candidates: Option<PyRef<'_, PyMatches>>,
    ) -> PyResult<PyMatches> {
        let b = batch.inner.clone();
        let inner = &self.inner;
        let candidates = candidates.map(|c| c.indices());
        let n = b.len() as u32;
        if candidates
            .as_ref()
            .is_some_and(|c| c.iter().any(|&ev| ev >= n))
        {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "a candidate is out of range for a batch of {n}"
            )));
        }
        let result = py.detach(|| {
            guarded("evaluating a wasm rule", || {
                lock(inner).evaluate_events(&b, filter, candidates.as_deref().map(Vec::as_slice))
            })
        })?;
        result
            .map(PyMatches::new)
            .map_err(|e| wasm_error(&self.rule_id, e))
    }

    /// Per event of `indices`, its captured fields as one JSON object
    /// (UTF-8 bytes, `{"path": value, ...}`): what an alert carries,
    /// written without building Python values.
    fn capture_json<'py>(
        &self,
        py: Python<'py>,
        batch: &PyEventBatch,
        indices: Vec<u32>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let b = batch.inner.clone();
        let (inner, schema) = (&self.inner, &self.schema.inner);
        // A rule's code runs without the GIL held (it may take its whole time limit).
        let written = py.detach(|| {
            guarded("capturing fields", || -> Result<Vec<Vec<u8>>, WasmError> {
                let mut instance = lock(inner);
                let mut rule = instance.batch();
                let mut out = Vec::with_capacity(indices.len());
                // One rule's captures: not worth making every key ahead.
                let keys = kestrel_engine::FieldKeys::lookup_only(schema);
                for index in indices {
                    let fields = rule.capture(&b, index)?;
                    let mut json = Vec::new();
                    kestrel_engine::captures_object(&keys, &b, index as usize, &fields, &mut json);
                    out.push(json);
                }
                Ok(out)
            })
        })?;
        let written = written.map_err(|e| wasm_error(&self.rule_id, e))?;
        Ok(written.iter().map(|json| PyBytes::new(py, json)).collect())
    }

    /// The captured fields of matched event `index`, as `{path: value}`.
    fn capture<'py>(
        &self,
        py: Python<'py>,
        batch: &PyEventBatch,
        index: u32,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let fields = py
            .detach(|| {
                guarded("capturing fields", || {
                    lock(inner).capture(&batch.inner, index)
                })
            })?
            .map_err(|e| wasm_error(&self.rule_id, e))?;
        let out = PyDict::new(py);
        let ev = index as usize;
        if ev < batch.inner.len() {
            for f in fields {
                if let Some(def) = self.schema.inner.field(f) {
                    out.set_item(
                        &*def.path,
                        value_to_py(py, &batch.inner, batch.inner.value(ev, f))?,
                    )?;
                }
            }
        }
        Ok(out)
    }

    #[getter]
    fn rule_id(&self) -> &str {
        &self.rule_id
    }

    /// Number of filters the module exports (`pred_eval`, `pred_eval_1`, ...).
    #[getter]
    fn filters(&self) -> usize {
        lock(&self.inner).filter_count()
    }

    #[getter]
    fn quarantined(&self) -> bool {
        lock(&self.inner).health().quarantined
    }

    /// Counters: batches, events, matches, failures, eval_ns, last_error,
    /// quarantined; and the load figures compile_ns, instantiate_ns, cache.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rule = lock(&self.inner);
        let (h, r) = (rule.health(), rule.load_report());
        let d = PyDict::new(py);
        d.set_item("batches", h.batches)?;
        d.set_item("events", h.events)?;
        d.set_item("matches", h.matches)?;
        d.set_item("failures", h.failures)?;
        d.set_item("eval_ns", h.eval_ns)?;
        d.set_item("leaves_declared", rule.declared_leaves())?;
        d.set_item("leaves_ahead", h.leaves_ahead)?;
        d.set_item("last_error", h.last_error.clone())?;
        d.set_item("quarantined", h.quarantined)?;
        d.set_item("compile_ns", r.compile_ns)?;
        d.set_item("instantiate_ns", r.instantiate_ns)?;
        d.set_item("cache", self.cache)?;
        Ok(d)
    }

    /// Lift the quarantine, after the cause is fixed.
    fn release(&self) {
        lock(&self.inner).release();
    }

    /// How the process-wide Wasm runtime is configured: wasmtime version,
    /// instance allocator, epoch tick and cache directory.
    #[staticmethod]
    fn runtime_info<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("wasmtime", kestrel_wasm::WASMTIME_VERSION)?;
        d.set_item("allocator", kestrel_wasm::runtime().allocator)?;
        d.set_item("epoch_tick_ms", kestrel_wasm::EPOCH_TICK_MS)?;
        d.set_item(
            "cache_dir",
            kestrel_wasm::default_cache_dir().map(|p| p.display().to_string()),
        )?;
        Ok(d)
    }
}

/// Compile WAT text into a validated binary module.
#[pyfunction]
pub fn wat_to_wasm<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyBytes>> {
    let wasm =
        kestrel_wasm::wat_to_wasm(text).map_err(|e| WasmRuleError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &wasm))
}
