//! `kestrel._core.Matches`: the indices a rule matched in a batch.
//!
//! Kept in Rust rather than converted to a list: a batch can match tens of
//! thousands of events, and building that many Python ints would cost more
//! than evaluating the rule. It behaves as a read-only sequence of ints.

use std::sync::Arc;

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

#[pyclass(module = "kestrel._core", name = "Matches", frozen, sequence)]
pub struct PyMatches {
    indices: Arc<Vec<u32>>,
}

impl PyMatches {
    pub fn new(indices: Vec<u32>) -> Self {
        PyMatches {
            indices: Arc::new(indices),
        }
    }

    /// The indices, shared without copying.
    pub fn indices(&self) -> Arc<Vec<u32>> {
        self.indices.clone()
    }
}

#[pymethods]
impl PyMatches {
    fn __len__(&self) -> usize {
        self.indices.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<u32> {
        let n = self.indices.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if (0..n).contains(&i) {
            Ok(self.indices[i as usize])
        } else {
            Err(PyIndexError::new_err("match index out of range"))
        }
    }

    fn __contains__(&self, event: u32) -> bool {
        self.indices.binary_search(&event).is_ok()
    }

    /// Equal to another Matches or to any sequence of the same ints.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(m) = other.cast::<PyMatches>() {
            return *m.get().indices == *self.indices;
        }
        match other.extract::<Vec<u32>>() {
            Ok(v) => v == *self.indices,
            Err(_) => false,
        }
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.tolist(py)?.try_iter().map(Bound::into_any)
    }

    /// The indices as a list of ints.
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.indices.iter())
    }

    /// One bit per event of a batch of `length` events (LSB first), set for matches.
    fn bitmap<'py>(&self, py: Python<'py>, length: usize) -> Bound<'py, PyBytes> {
        let mut bits = vec![0u8; length.div_ceil(8)];
        for &i in self.indices.iter().filter(|&&i| (i as usize) < length) {
            bits[i as usize / 8] |= 1 << (i % 8);
        }
        PyBytes::new(py, &bits)
    }

    fn __repr__(&self) -> String {
        let shown: Vec<String> = self.indices.iter().take(10).map(u32::to_string).collect();
        let more = if self.indices.len() > 10 {
            format!(", ... ({} in all)", self.indices.len())
        } else {
            String::new()
        };
        format!("Matches([{}{more}])", shown.join(", "))
    }
}
