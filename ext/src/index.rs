//! `kestrel._core.RuleIndex`: which events of a batch each event rule could
//! match, so the engine offers a rule only those (see `kestrel-index`).

use kestrel_index::RuleIndex;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;

use crate::batch::PyEventBatch;
use crate::errors::{guarded, index_error};
use crate::matches::PyMatches;
use crate::schema::PySchema;

/// A prefilter over a rule set.
///
/// `ir_jsons` holds each rule's IR (`CompiledRule.ir_json()`), or `None` for
/// a rule without one (a hand-written Wasm or Lua package), which is never
/// restricted. An event rule whose predicate requires a field to equal one
/// of some strings is *anchored* on it; `candidates(batch)` then gives, per
/// rule, the events with such a value and the rule's category (a superset
/// of its matches), or `None` for the whole batch.
#[pyclass(module = "kestrel._core", name = "RuleIndex", frozen)]
pub struct PyRuleIndex {
    inner: RuleIndex,
}

#[pymethods]
impl PyRuleIndex {
    #[new]
    fn new(py: Python<'_>, ir_jsons: Vec<Option<String>>, schema: PySchema) -> PyResult<Self> {
        let built = py.detach(|| {
            guarded("building a rule index", || {
                let refs: Vec<Option<&str>> = ir_jsons.iter().map(Option::as_deref).collect();
                RuleIndex::new(&refs, &schema.inner)
            })
        })?;
        Ok(PyRuleIndex {
            inner: built.map_err(index_error)?,
        })
    }

    /// Per rule, the events it could match (`Matches`), or `None` for all.
    /// Releases the GIL.
    fn candidates(&self, py: Python<'_>, batch: &PyEventBatch) -> PyResult<Vec<Option<PyMatches>>> {
        let b = batch.inner.clone();
        let found = py.detach(|| guarded("selecting candidates", || self.inner.candidates(&b)))?;
        Ok(found.into_iter().map(|c| c.map(PyMatches::new)).collect())
    }

    /// Per rule, `None` for all events, or per filter (steps, then `until`)
    /// the events of its category that could pass it (`Matches`), worked
    /// out on `threads` threads (the result does not depend on it).
    /// Releases the GIL.
    #[pyo3(signature = (batch, threads = 1))]
    fn candidates_by_filter(
        &self,
        py: Python<'_>,
        batch: &PyEventBatch,
        threads: usize,
    ) -> PyResult<Vec<Option<Vec<PyMatches>>>> {
        let b = batch.inner.clone();
        let found = py.detach(|| {
            guarded("selecting candidates", || {
                self.inner.candidates_by_filter_on(&b, threads.max(1))
            })
        })?;
        Ok(found
            .into_iter()
            .map(|c| c.map(|lists| lists.into_iter().map(PyMatches::new).collect()))
            .collect())
    }

    /// How many rules have an anchor.
    #[getter]
    fn anchored(&self) -> usize {
        self.inner.anchored()
    }

    /// Rule `i`'s anchor, e.g. ``"process.name in 14 values (ci)"``, or
    /// `None` if it has none.
    fn describe(&self, i: usize) -> PyResult<Option<String>> {
        if i >= self.inner.len() {
            return Err(PyIndexError::new_err(format!(
                "rule {i} out of range: the index has {}",
                self.inner.len()
            )));
        }
        Ok(self.inner.anchor(i).map(ToString::to_string))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "RuleIndex(rules={}, anchored={})",
            self.inner.len(),
            self.inner.anchored()
        )
    }
}
