//! `kestrel._core.IrProgram`: a compiled rule's IR, loaded and evaluated in Rust.

use std::sync::Arc;

use kestrel_event::EventBatch;
use kestrel_host::ops::Tri;
use kestrel_host::NodeEvaluator;
use kestrel_ir::{Program, Scalar, Val};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::batch::PyEventBatch;
use crate::errors::{guarded, ir_error};
use crate::host::PyHostContext;
use crate::schema::PySchema;

fn scalar_to_py<'py>(py: Python<'py>, s: Scalar<'static>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match s {
        Scalar::Null => py.None().into_bound(py),
        Scalar::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
        Scalar::Float(x) => x.into_pyobject(py)?.into_any(),
        Scalar::Str(text) => text.into_pyobject(py)?.into_any(),
    })
}

/// A program shared between its `IrProgram` and the host contexts it serves.
struct SharedProgram(Arc<Program>);

impl NodeEvaluator for SharedProgram {
    fn eval_node(&self, batch: &EventBatch, ev: usize, node: u32) -> Tri {
        self.0.eval_node(batch, ev, node)
    }
}

/// A rule's IR (`CompiledRule.ir_json()`), validated and ready to evaluate.
///
/// Fields are bound by path in `schema`, which should be the schema the
/// batches are decoded with. Filters are numbered as in the rule-package
/// ABI: the steps, then `until`.
#[pyclass(module = "kestrel._core", name = "IrProgram", frozen)]
pub struct PyIrProgram {
    inner: Arc<Program>,
}

impl PyIrProgram {
    fn check_step(&self, step: usize) -> PyResult<()> {
        let count = self.inner.filter_count();
        if step < count {
            Ok(())
        } else {
            Err(PyIndexError::new_err(format!(
                "filter {step} out of range: the rule has {count}"
            )))
        }
    }

    /// Run `per_event` over every event of `batch` with the GIL released.
    fn over_batch<T: Send>(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyEventBatch>,
        what: &str,
        per_event: impl Fn(&Program, &EventBatch, usize) -> Option<T> + Send + Sync,
    ) -> PyResult<Vec<T>> {
        let (program, events) = (self.inner.clone(), batch.get().inner.clone());
        py.detach(|| {
            guarded(what, || {
                (0..events.len())
                    .filter_map(|ev| per_event(&program, &events, ev))
                    .collect()
            })
        })
    }
}

#[pymethods]
impl PyIrProgram {
    #[new]
    fn new(py: Python<'_>, ir_json: &str, schema: PySchema) -> PyResult<Self> {
        let program =
            py.detach(|| guarded("loading IR", || Program::from_json(ir_json, &schema.inner)))?;
        Ok(PyIrProgram {
            inner: Arc::new(program.map_err(ir_error)?),
        })
    }

    /// The three-valued result of filter `step`'s predicate for every event
    /// (no category check).
    #[pyo3(signature = (batch, step = 0))]
    fn evaluate(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyEventBatch>,
        step: usize,
    ) -> PyResult<Vec<Option<bool>>> {
        self.check_step(step)?;
        self.over_batch(py, batch, "evaluating IR", move |p, b, ev| {
            Some(p.eval_step(step, b, ev))
        })
    }

    /// Indexes of the events that pass filter `step` (category and predicate).
    #[pyo3(signature = (batch, step = 0))]
    fn matches(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyEventBatch>,
        step: usize,
    ) -> PyResult<Vec<usize>> {
        self.check_step(step)?;
        self.over_batch(py, batch, "matching IR", move |p, b, ev| {
            p.step_matches(step, b, ev).then_some(ev)
        })
    }

    /// Serve the Host API's `eval_node` for `context` with this program's
    /// nodes (replacing any evaluator it had). Attach before evaluating.
    fn attach(&self, mut context: PyRefMut<'_, PyHostContext>) {
        context.inner.evaluator = Some(std::sync::Arc::new(SharedProgram(self.inner.clone())));
    }

    /// The value of node `node` for event `ev` of `batch`: None for null (an
    /// error is null too, as in EQL), a list for a multi-valued result. The
    /// compiler folds constant subtrees with it, so the core is the one
    /// production evaluator of EQL's semantics.
    fn value<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyEventBatch>,
        ev: usize,
        node: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let events = &batch.get().inner;
        if ev >= events.len() || node as usize >= self.inner.node_count() {
            return Err(PyIndexError::new_err(format!(
                "event {ev} or node {node} out of range ({} events, {} nodes)",
                events.len(),
                self.inner.node_count()
            )));
        }
        let value = guarded("evaluating an IR node", || {
            self.inner.eval(events, ev, node).map(|v| match v {
                Val::One(s) => vec![s.into_owned()],
                Val::Many(items) => items.into_iter().map(|s| s.into_owned()).collect(),
                Val::Field(items) => items
                    .iter()
                    .map(|item| Scalar::from_ref(events.element(item)).into_owned())
                    .collect(),
            })
        })?;
        let Some(mut scalars) = value else {
            return Ok(py.None().into_bound(py));
        };
        if scalars.len() == 1 {
            return scalar_to_py(py, scalars.remove(0));
        }
        let list = PyList::empty(py);
        for s in scalars {
            list.append(scalar_to_py(py, s)?)?;
        }
        Ok(list.into_any())
    }

    /// How many nodes the program has (valid `eval_node` ids are below it).
    #[getter]
    fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    fn __repr__(&self) -> String {
        format!(
            "IrProgram(nodes={}, filters={})",
            self.inner.node_count(),
            self.inner.filter_count()
        )
    }
}
