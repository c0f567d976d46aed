//! `kestrel._core.SequenceMatcher` and `StateBudget`: the sequence engine
//! (`rust/kestrel-seq`) fed with per-filter match lists.

use std::sync::{Arc, Mutex};

use kestrel_engine::StateStats;
use kestrel_ir::{Program, RuleKind};
use kestrel_seq::{decode_key, Config, KeyValue, Match, SequenceMatcher, StateBudget};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::batch::PyEventBatch;
use crate::errors::{guarded, ir_error, seq_error};
use crate::matches::PyMatches;
use crate::schema::PySchema;

/// A memory budget shared by the sequence matchers given it: their state
/// together stays under `memory_budget` bytes, evicting least recently used
/// keys first.
#[pyclass(module = "kestrel._core", name = "StateBudget", frozen)]
pub struct PyStateBudget {
    inner: StateBudget,
}

#[pymethods]
impl PyStateBudget {
    #[new]
    fn new() -> Self {
        PyStateBudget {
            inner: StateBudget::default(),
        }
    }

    /// Bytes of state currently held by every matcher sharing this budget.
    #[getter]
    fn used(&self) -> i64 {
        self.inner.used()
    }
}

/// The sequence (or sample) matcher of one rule.
///
/// `process(batch, matches)` takes, for each filter of the rule (steps then
/// `until`), the events of `batch` that passed it (a `Matches` or a list of
/// ints), and returns the completed sequences as tuples
/// `(kind, join_keys, events, first_ts, last_ts)`, where each event is
/// `(seq, timestamp_ns, raw_json_bytes | None)` or `None` for a missing step.
#[pyclass(module = "kestrel._core", name = "SequenceMatcher")]
pub struct PySequenceMatcher {
    // Shared with the engine pipeline, whose partition 0 runs this matcher;
    // the program, settings and budget make the other partitions' matchers.
    pub(crate) inner: Arc<Mutex<SequenceMatcher>>,
    pub(crate) program: Arc<Program>,
    pub(crate) config: Config,
    pub(crate) budget: StateBudget,
    rule_id: String,
}

fn lock(m: &Mutex<SequenceMatcher>) -> std::sync::MutexGuard<'_, SequenceMatcher> {
    // A panic inside the matcher is reported as InternalError by `guarded`;
    // the state it left is still the best there is.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn key_to_py<'py>(py: Python<'py>, value: KeyValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        KeyValue::Null => py.None().into_bound(py),
        KeyValue::Int(x) => x.into_pyobject(py)?.into_any(),
        KeyValue::UInt(x) => x.into_pyobject(py)?.into_any(),
        KeyValue::Float(x) => x.into_pyobject(py)?.into_any(),
        KeyValue::Bool(x) => pyo3::types::PyBool::new(py, x).to_owned().into_any(),
        KeyValue::Str(s) => s.into_pyobject(py)?.into_any(),
    })
}

fn optional_ts(ts: i64) -> Option<i64> {
    (ts != i64::MIN).then_some(ts)
}

fn match_to_py<'py>(py: Python<'py>, m: Match) -> PyResult<Bound<'py, PyTuple>> {
    let kind = match m.kind {
        RuleKind::Sample => "sample",
        _ => "sequence",
    };
    let keys = PyList::empty(py);
    for value in decode_key(&m.key) {
        keys.append(key_to_py(py, value)?)?;
    }
    let events = PyList::empty(py);
    for event in m.events {
        match event {
            Some(e) => {
                let raw = e.raw.as_ref().map(|r| PyBytes::new(py, r.bytes()));
                events.append((e.seq, e.ts, raw))?;
            }
            None => events.append(py.None())?,
        }
    }
    PyTuple::new(
        py,
        [
            kind.into_pyobject(py)?.into_any(),
            keys.into_any(),
            events.into_any(),
            optional_ts(m.first_ts).into_pyobject(py)?.into_any(),
            optional_ts(m.last_ts).into_pyobject(py)?.into_any(),
        ],
    )
}

/// A matcher's figures (or several summed) as the `stats()` dict.
pub(crate) fn state_dict<'py>(py: Python<'py>, s: &StateStats) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let t = &s.stats;
    for (name, value) in [
        ("hits", t.hits),
        ("untimed", t.untimed),
        ("late", t.late),
        ("null_keys", t.null_keys),
        ("matches", t.matches),
        ("replaced", t.replaced),
        ("rejected_maxspan", t.rejected_maxspan),
        ("rejected_missing", t.rejected_missing),
    ] {
        out.set_item(name, value)?;
    }
    let ev = PyDict::new(py);
    let e = t.evictions;
    for (name, value) in [
        ("expired", e.expired),
        ("lru", e.lru),
        ("quota_rule", e.quota_rule),
        ("quota_entity", e.quota_entity),
        ("until", e.until),
    ] {
        ev.set_item(name, value)?;
    }
    out.set_item("evictions", ev)?;
    out.set_item("partials", s.partials)?;
    out.set_item("keys", s.keys)?;
    out.set_item("state_bytes", s.state_bytes)?;
    out.set_item(
        "bytes_per_partial",
        if s.partials == 0 {
            0.0
        } else {
            s.state_bytes as f64 / s.partials as f64
        },
    )?;
    out.set_item("overhead_bytes", s.overhead_bytes)?;
    out.set_item("pinned_evidence_bytes", s.pinned_evidence_bytes)?;
    out.set_item("buffered", s.buffered)?;
    out.set_item("shards", s.shards)?;
    out.set_item("partitions", s.partitions)?;
    Ok(out)
}

fn matches_to_py<'py>(py: Python<'py>, matches: Vec<Match>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for m in matches {
        out.append(match_to_py(py, m)?)?;
    }
    Ok(out)
}

#[pymethods]
impl PySequenceMatcher {
    #[new]
    #[pyo3(signature = (ir_json, schema, *, rule_id = "sequence", shards = 1, max_out_of_order_ns = 0,
        memory_budget = None, quota_rule = None, quota_entity = None, idle_ttl_ns = None, max_samples_per_key = 1,
        keep_raw = true, budget = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        ir_json: &str,
        schema: PySchema,
        rule_id: &str,
        shards: usize,
        max_out_of_order_ns: i64,
        memory_budget: Option<usize>,
        quota_rule: Option<usize>,
        quota_entity: Option<usize>,
        idle_ttl_ns: Option<i64>,
        max_samples_per_key: u32,
        keep_raw: bool,
        budget: Option<PyRef<'_, PyStateBudget>>,
    ) -> PyResult<Self> {
        let program = py
            .detach(|| guarded("loading IR", || Program::from_json(ir_json, &schema.inner)))?
            .map_err(ir_error)?;
        let config = Config {
            shards: shards.clamp(1, 256),
            max_out_of_order_ns: max_out_of_order_ns.max(0),
            memory_budget,
            quota_rule,
            quota_entity,
            idle_ttl_ns,
            max_samples_per_key: max_samples_per_key.max(1),
            keep_raw,
        };
        let budget = budget.map(|b| b.inner.clone()).unwrap_or_default();
        let inner =
            SequenceMatcher::new(&program, config.clone(), budget.clone()).map_err(seq_error)?;
        Ok(PySequenceMatcher {
            inner: Arc::new(Mutex::new(inner)),
            program: Arc::new(program),
            config,
            budget,
            rule_id: rule_id.to_string(),
        })
    }

    /// Feed one batch and its per-filter matches; returns completed matches.
    /// Releases the GIL; shards run in parallel threads.
    fn process<'py>(
        &self,
        py: Python<'py>,
        batch: &PyEventBatch,
        matches: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut lists: Vec<std::sync::Arc<Vec<u32>>> = Vec::with_capacity(matches.len());
        for m in &matches {
            lists.push(match m.cast::<PyMatches>() {
                Ok(m) => m.get().indices(),
                Err(_) => std::sync::Arc::new(m.extract::<Vec<u32>>()?),
            });
        }
        let events = batch.inner.clone();
        let inner = &self.inner;
        let result = py.detach(|| {
            guarded("matching sequences", || {
                let slices: Vec<&[u32]> = lists.iter().map(|l| l.as_slice()).collect();
                lock(inner).process(&events, &slices)
            })
        })?;
        matches_to_py(py, result.map_err(seq_error)?)
    }

    /// End of stream: release buffered events and close trailing-missing windows.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inner = &self.inner;
        let result = py.detach(|| guarded("flushing sequences", || lock(inner).flush()))?;
        matches_to_py(py, result)
    }

    /// Counters, evictions by reason, and the state's size.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state_dict(py, &StateStats::of(&lock(&self.inner)))
    }

    /// The state as a versioned binary snapshot.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let data = py.detach(|| guarded("snapshotting sequences", || lock(inner).snapshot()))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Replace the state with a snapshot's (taken from the same rule).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| guarded("restoring sequences", || lock(inner).restore(data)))?
            .map_err(seq_error)
    }

    #[getter]
    fn rule_id(&self) -> &str {
        &self.rule_id
    }

    /// "sequence" or "sample".
    #[getter]
    fn kind(&self) -> &'static str {
        match lock(&self.inner).plan().kind {
            RuleKind::Sample => "sample",
            _ => "sequence",
        }
    }

    /// The number of filters the rule has (steps, then `until`).
    #[getter]
    fn filters(&self) -> usize {
        lock(&self.inner).plan().filters.len()
    }

    /// The filters whose hits can start state (first steps, leading missing
    /// steps, sample steps), ascending.
    #[getter]
    fn starting_filters(&self) -> Vec<usize> {
        lock(&self.inner).starting_filters()
    }

    /// True when no partial match is held and events are not reordered:
    /// then a batch without a hit on a starting filter completes nothing,
    /// and its other filters need not be evaluated.
    fn is_idle(&self) -> bool {
        lock(&self.inner).is_idle()
    }
}
