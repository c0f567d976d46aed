//! `kestrel._core.Pipeline` and `NativeRule`: the engine's per-batch loop
//! (`rust/kestrel-engine`), one call per batch with the GIL released.

use std::sync::Arc;

use kestrel_engine::{
    AlertKind, Evaluator, ExternalMatches, PipeOp, Pipeline, PipelineConfig, Rule, RuleSpec, Scope,
};
use kestrel_ir::Program;
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::batch::PyEventBatch;
use crate::errors::{engine_error, guarded, ir_error};
use crate::schema::PySchema;
use crate::sequence::{state_dict, PySequenceMatcher};
use crate::wasm::PyWasmRule;

/// One rule as the pipeline runs it. Built once per loaded rule and kept
/// across rule-set changes, so a rule carried over keeps its state (its
/// sequences' partial matches, its pipes' counts).
///
/// With `wasm` alone it is a Wasm event rule; with `wasm` and `matcher` a
/// sequence or sample; with neither, a rule evaluated outside the core
/// (Lua), whose matches are handed to `Pipeline.process`. `ir_json` (with
/// `schema`) lets the rule index anchor it.
#[pyclass(module = "kestrel._core", name = "NativeRule", frozen)]
pub struct PyNativeRule {
    pub(crate) inner: Arc<Rule>,
}

#[pymethods]
impl PyNativeRule {
    #[new]
    #[pyo3(signature = (rule_id, fingerprint, rule_json, kind, *, categories=Vec::new(), pipes=Vec::new(), ir_json=None, schema=None, wasm=None, matcher=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        rule_id: String,
        fingerprint: String,
        rule_json: Vec<u8>,
        kind: &str,
        categories: Vec<String>,
        pipes: Vec<(String, u64)>,
        ir_json: Option<String>,
        schema: Option<PySchema>,
        wasm: Option<PyRef<'_, PyWasmRule>>,
        matcher: Option<PyRef<'_, PySequenceMatcher>>,
    ) -> PyResult<Self> {
        let kind = match kind {
            "event" => AlertKind::Event,
            "sequence" => AlertKind::Sequence,
            "sample" => AlertKind::Sample,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown rule kind {other:?} (event, sequence or sample)"
                )))
            }
        };
        let pipes = pipes
            .into_iter()
            .map(|(op, count)| {
                PipeOp::parse(&op).map(|op| (op, count)).ok_or_else(|| {
                    PyValueError::new_err(format!("unknown pipe {op:?} (head and tail are known)"))
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let anchors = match (&ir_json, &schema) {
            (Some(json), Some(schema)) => {
                let program = py
                    .detach(|| guarded("loading IR", || Program::from_json(json, &schema.inner)))?
                    .map_err(ir_error)?;
                kestrel_index::anchors(&program, json)
            }
            _ => Vec::new(),
        };
        let evaluator = match (wasm, matcher) {
            (Some(w), None) => Evaluator::Wasm(w.inner.clone()),
            (Some(w), Some(m)) => Evaluator::Sequence {
                predicate: w.inner.clone(),
                matcher: m.inner.clone(),
                program: m.program.clone(),
                config: m.config.clone(),
                budget: m.budget.clone(),
            },
            (None, None) => Evaluator::External,
            (None, Some(_)) => {
                return Err(PyValueError::new_err(
                    "a sequence rule needs its step predicates (wasm=)",
                ))
            }
        };
        let spec = RuleSpec {
            id: rule_id,
            fingerprint,
            alert_rule_json: rule_json,
            kind,
            categories,
            anchors,
            pipes,
        };
        Ok(PyNativeRule {
            inner: Arc::new(Rule::new(spec, evaluator)),
        })
    }

    #[getter]
    fn rule_id(&self) -> &str {
        &self.inner.spec.id
    }

    /// Whether a failure quarantined the rule (without building `stats()`,
    /// which walks a sequence's state).
    #[getter]
    fn quarantined(&self) -> bool {
        self.inner.counters().quarantined
    }

    /// Counters (evaluations, batches, matches, alerts, errors, time_ms,
    /// last_error, quarantined), `pipes` when the rule has any, and `state`
    /// (summed over partitions) for sequences and samples.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counters();
        let d = PyDict::new(py);
        d.set_item("evaluations", c.evaluations)?;
        d.set_item("batches", c.batches)?;
        d.set_item("matches", c.matches)?;
        d.set_item("alerts", c.alerts)?;
        d.set_item("errors", c.errors)?;
        d.set_item("time_ms", (c.time_ns as f64 / 1e3).round() / 1e3)?;
        d.set_item("last_error", c.last_error)?;
        d.set_item("quarantined", c.quarantined)?;
        if !self.inner.spec.pipes.is_empty() {
            let (stages, emitted, exhausted) = self.inner.pipe_stats();
            let list = PyList::empty(py);
            for s in stages {
                let stage = PyDict::new(py);
                stage.set_item("op", s.op.name())?;
                stage.set_item("count", s.count)?;
                match s.op {
                    PipeOp::Head => stage.set_item("passed", s.passed)?,
                    PipeOp::Tail => stage.set_item("held", s.held)?,
                }
                stage.set_item("dropped", s.dropped)?;
                list.append(stage)?;
            }
            let pipes = PyDict::new(py);
            pipes.set_item("stages", list)?;
            pipes.set_item("emitted", emitted)?;
            pipes.set_item("exhausted", exhausted)?;
            d.set_item("pipes", pipes)?;
        }
        if let Some(s) = self.inner.state_stats() {
            d.set_item("state", state_dict(py, &s)?)?;
        }
        Ok(d)
    }
}

/// The engine's per-batch loop over a rule set.
///
/// `process(batch, external)` evaluates every rule the batch's categories
/// and the rule index select, on `partitions` threads split by the entity
/// field, merges each rule's results in Elasticsearch order through its
/// pipes and the deduplication window, and returns the alerts as JSON lines
/// `(bytes, count)`. `external` carries, per rule evaluated outside the
/// core, `(position, [(event, captures JSON)], offered, elapsed_ns, error,
/// quarantined)`.
#[pyclass(module = "kestrel._core", name = "Pipeline", frozen)]
pub struct PyPipeline {
    inner: Pipeline,
}

type ExternalTuple = (usize, Vec<(u32, Vec<u8>)>, u64, u64, Option<String>, bool);

/// The alerts are written straight into the Python bytes object.
fn output<'py>(
    py: Python<'py>,
    out: kestrel_engine::Output,
) -> PyResult<(Bound<'py, PyBytes>, usize)> {
    let bytes = PyBytes::new_with(py, out.byte_len(), |buf| {
        out.write_into(buf);
        Ok(())
    })?;
    Ok((bytes, out.alerts()))
}

#[pymethods]
impl PyPipeline {
    #[new]
    #[pyo3(signature = (schema, *, partitions=1, dedup_window_ms=0, tiebreaker_field=None, entity_field="host.id", indexing=true))]
    fn new(
        schema: PySchema,
        partitions: usize,
        dedup_window_ms: i64,
        tiebreaker_field: Option<&str>,
        entity_field: &str,
        indexing: bool,
    ) -> PyResult<Self> {
        if !(1..=256).contains(&partitions) {
            return Err(PyValueError::new_err(format!(
                "partitions must be 1 to 256, not {partitions}"
            )));
        }
        let config = PipelineConfig {
            partitions,
            dedup_window_ns: dedup_window_ms.saturating_mul(1_000_000),
            tiebreaker: tiebreaker_field.map(|f| schema.inner.resolve(f).id),
            entity: schema.inner.resolve(entity_field).id,
            indexing,
        };
        Ok(PyPipeline {
            inner: Pipeline::new(schema.inner.clone(), config),
        })
    }

    /// Replace the rule set (each rule's instances for every partition are
    /// made first: on failure nothing changes).
    fn set_rules(&self, py: Python<'_>, rules: Vec<PyRef<'_, PyNativeRule>>) -> PyResult<()> {
        let rules: Vec<Arc<Rule>> = rules.iter().map(|r| r.inner.clone()).collect();
        let inner = &self.inner;
        py.detach(|| guarded("installing rules", || inner.set_rules(rules)))?
            .map_err(engine_error)
    }

    /// Switch rule indexing on or off (between batches).
    fn set_indexing(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| guarded("installing rules", || inner.set_indexing(on)))?
            .map_err(engine_error)
    }

    /// Positions of the sequences not joined on the entity: what a
    /// `cross_entity` call evaluates.
    fn cross_entity_rules(&self) -> Vec<usize> {
        self.inner.cross_entity_rules()
    }

    /// Positions of the external rules `batch` must be offered to.
    fn external_rules(&self, batch: &PyEventBatch) -> Vec<usize> {
        self.inner.external_rules(&batch.inner)
    }

    /// Evaluate `batch`. With `partition`, the batch is that partition's
    /// alone (a distributed runner keyed it) and sequences not joined on the
    /// entity are skipped; with `cross_entity`, only those sequences run.
    #[pyo3(signature = (batch, external=Vec::new(), partition=None, cross_entity=false))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        batch: &PyEventBatch,
        external: Vec<ExternalTuple>,
        partition: Option<usize>,
        cross_entity: bool,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let scope = match (partition, cross_entity) {
            (None, false) => Scope::All,
            (Some(p), false) => Scope::Partition(p),
            (None, true) => Scope::CrossEntity,
            (Some(_), true) => {
                return Err(PyValueError::new_err(
                    "a batch is either one partition's or cross-entity, not both",
                ))
            }
        };
        let external = external
            .into_iter()
            .map(
                |(rule, hits, offered, elapsed_ns, error, quarantined)| ExternalMatches {
                    rule,
                    hits,
                    offered,
                    elapsed_ns,
                    error,
                    quarantined,
                },
            )
            .collect();
        let b = batch.inner.clone();
        let inner = &self.inner;
        let out = py
            .detach(|| {
                guarded("evaluating a batch", || {
                    inner.process_scoped(&b, external, scope)
                })
            })?
            .map_err(engine_error)?;
        output(py, out)
    }

    /// End of input: pending sequences and `| tail` results, as `process` returns alerts.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let inner = &self.inner;
        let out = py
            .detach(|| guarded("flushing", || inner.flush()))?
            .map_err(engine_error)?;
        output(py, out)
    }

    /// A checkpoint of every rule's state and the deduplication window, with `extra` inside.
    #[pyo3(signature = (extra=Vec::new()))]
    fn snapshot<'py>(&self, py: Python<'py>, extra: Vec<u8>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let data = py.detach(|| guarded("snapshotting the engine", || inner.snapshot(&extra)))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Restore a snapshot of this rule set; returns its `extra` bytes.
    fn restore<'py>(&self, py: Python<'py>, data: Vec<u8>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let extra = py
            .detach(|| guarded("restoring the engine", || inner.restore(&data)))?
            .map_err(engine_error)?;
        Ok(PyBytes::new(py, &extra))
    }

    /// Event time in partition `p` reached `watermark` (ns): expire windows
    /// and settle trailing missing steps; their alerts as `process` gives them.
    fn advance<'py>(
        &self,
        py: Python<'py>,
        p: usize,
        watermark: i64,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let inner = &self.inner;
        let out = py
            .detach(|| guarded("advancing time", || inner.advance(p, watermark)))?
            .map_err(engine_error)?;
        output(py, out)
    }

    /// The earliest event time (ns) at which `advance(p, ...)` has work, or `None`.
    fn next_deadline(&self, p: usize) -> PyResult<Option<i64>> {
        self.inner.next_deadline(p).map_err(engine_error)
    }

    /// The end of partition `p`'s input: its sequences settle.
    fn flush_partition<'py>(
        &self,
        py: Python<'py>,
        p: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let inner = &self.inner;
        let out = py
            .detach(|| guarded("flushing a partition", || inner.flush_partition(p)))?
            .map_err(engine_error)?;
        output(py, out)
    }

    /// Partition `p`'s sequence state.
    fn snapshot_partition<'py>(&self, py: Python<'py>, p: usize) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let data = py
            .detach(|| guarded("snapshotting a partition", || inner.snapshot_partition(p)))?
            .map_err(engine_error)?;
        Ok(PyBytes::new(py, &data))
    }

    /// Restore partition `p`'s sequence state from `snapshot_partition(p)`.
    fn restore_partition(&self, py: Python<'_>, p: usize, data: Vec<u8>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| {
            guarded("restoring a partition", || {
                inner.restore_partition(p, &data)
            })
        })?
        .map_err(engine_error)
    }

    #[getter]
    fn partitions(&self) -> usize {
        self.inner.config().partitions
    }

    /// Alerts emitted, and those suppressed as duplicates.
    fn totals(&self) -> (u64, u64) {
        self.inner.totals()
    }

    /// Where the time went, per stage (select, event_rules, sequences,
    /// alerts, merge), in nanoseconds; partition stages summed over threads.
    fn timings(&self) -> Vec<(&'static str, u64)> {
        self.inner.timings.snapshot().to_vec()
    }

    /// The schema ids of every field a rule reads (what batches need
    /// decoded), or `None` when some rule may read any field.
    fn fields(&self) -> Option<Vec<u32>> {
        self.inner.rules().fields().map(<[u32]>::to_vec)
    }

    /// How many rules the index restricts to their candidate events.
    #[getter]
    fn anchored(&self) -> usize {
        self.inner.rules().anchored()
    }

    /// Rule `position`'s anchor, e.g. ``"process.name in 14 values (ci)"``, or `None`.
    fn anchor(&self, position: usize) -> PyResult<Option<String>> {
        let set = self.inner.rules();
        if position >= set.rules.len() {
            return Err(PyIndexError::new_err(format!(
                "rule {position} out of range: {} loaded",
                set.rules.len()
            )));
        }
        Ok(set.anchor(position))
    }
}
