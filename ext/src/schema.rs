//! `kestrel.Schema` and `kestrel.FieldInfo`.

use std::path::PathBuf;

use kestrel_schema::{FieldDef, FieldId, Schema};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{io_error, schema_error, SchemaError};

/// A field as the schema knows it.
#[pyclass(module = "kestrel._core", name = "FieldInfo", frozen, eq, get_all)]
#[derive(Clone, PartialEq)]
pub struct PyFieldInfo {
    /// The stable FieldId (u32).
    pub id: u32,
    /// Dotted ECS path.
    pub path: String,
    /// `i64`, `u64`, `f64`, `bool`, `string`, `ip`, `bytes`, `timestamp`,
    /// `date_nanos`, `version` or `unknown`; a date with a non-default
    /// format carries it after a colon (`timestamp:epoch_second`).
    #[pyo3(name = "type")]
    pub type_: String,
    /// Whether the field is normalised to an array.
    pub array: bool,
    /// Whether the id was auto-assigned rather than declared.
    pub auto: bool,
    /// For an alias or a multi-field: the path of the field whose value it reads.
    pub reads: Option<String>,
    /// Whether reading lower-cases the value (a `.caseless` multi-field).
    pub lowercase: bool,
    /// Analysed text with no keyword multi-field: EQL cannot compare it.
    pub inexact: bool,
}

impl From<FieldDef> for PyFieldInfo {
    fn from(d: FieldDef) -> Self {
        PyFieldInfo {
            id: d.id,
            path: d.path.to_string(),
            type_: d.type_name(),
            array: d.ty.array,
            auto: d.auto,
            reads: d.source.as_ref().map(|s| s.path.to_string()),
            lowercase: d.source.as_ref().is_some_and(|s| s.lowercase),
            inexact: d.inexact,
        }
    }
}

#[pymethods]
impl PyFieldInfo {
    fn __repr__(&self) -> String {
        let ty = if self.array {
            format!("array<{}>", self.type_)
        } else {
            self.type_.clone()
        };
        format!(
            "FieldInfo(id={}, path={:?}, type={:?}{})",
            self.id,
            self.path,
            ty,
            if self.auto { ", auto" } else { "" }
        )
    }
}

/// A registry of typed fields with stable ids.
///
/// `Schema.default()` is ECS 9.5.0. Fields not in the schema are assigned ids
/// on first use (by the compiler or the decoder); their type is inferred the
/// first time a value is seen, and later disagreements are recorded in
/// `conflicts()`.
#[pyclass(module = "kestrel._core", name = "Schema")]
#[derive(Clone)]
pub struct PySchema {
    pub inner: Schema,
}

#[pymethods]
impl PySchema {
    /// The bundled ECS 9.5.0 schema. Each call returns an independent copy.
    #[staticmethod]
    fn default() -> Self {
        PySchema {
            inner: kestrel_schema::ecs_default(),
        }
    }

    /// A schema with no fields.
    #[staticmethod]
    #[pyo3(signature = (name = "custom", version = "1"))]
    fn empty(name: &str, version: &str) -> Self {
        PySchema {
            inner: Schema::new(name, version),
        }
    }

    /// Load a schema document from JSON text.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        kestrel_schema::from_json(text)
            .map(|inner| PySchema { inner })
            .map_err(schema_error)
    }

    /// Load a schema document from YAML text.
    #[staticmethod]
    fn from_yaml(text: &str) -> PyResult<Self> {
        kestrel_schema::from_yaml(text)
            .map(|inner| PySchema { inner })
            .map_err(schema_error)
    }

    /// Load a schema document from a `.json`, `.yaml` or `.yml` file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let text = read_schema_file(&path)?;
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let parsed = if is_yaml {
            kestrel_schema::from_yaml(&text)
        } else {
            kestrel_schema::from_json(&text)
        };
        parsed
            .map(|inner| PySchema { inner })
            .map_err(|e| SchemaError::new_err(format!("{}: {e}", path.display())))
    }

    /// The bundled ECS schema (or `base`) extended with an Elasticsearch
    /// index mapping: a dict, JSON text, or the path of a JSON file holding
    /// what `GET index/_mapping` or an index template returns. Nested
    /// `properties`, multi-fields (`fields`), `alias` fields, and the types
    /// `date` (with its `format`), `date_nanos`, `ip` and `version` keep
    /// their Elasticsearch meaning in every runtime.
    #[staticmethod]
    #[pyo3(signature = (mapping, base = None))]
    fn from_elasticsearch_mapping(
        py: Python<'_>,
        mapping: &Bound<'_, PyAny>,
        base: Option<&PySchema>,
    ) -> PyResult<Self> {
        let inner = base.map_or_else(kestrel_schema::ecs_default, |b| b.inner.fork());
        let schema = PySchema { inner };
        schema.extend_from_elasticsearch_mapping(py, mapping)?;
        Ok(schema)
    }

    /// Add an Elasticsearch index mapping's fields (see
    /// `from_elasticsearch_mapping`); returns how many were declared.
    fn extend_from_elasticsearch_mapping(
        &self,
        py: Python<'_>,
        mapping: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let value = mapping_value(py, mapping)?;
        kestrel_schema::extend_from_mapping(&self.inner, &value).map_err(schema_error)
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.name()
    }

    /// Recorded in rule packages compiled against this schema.
    #[getter]
    fn version(&self) -> String {
        self.inner.version()
    }

    /// Add or re-type fields: `{path: type}`, with Kestrel or Elasticsearch
    /// type names, `{path: {"type": .., "array": ..}}`, or nested maps.
    fn extend(&self, py: Python<'_>, fields: &Bound<'_, PyDict>) -> PyResult<()> {
        let json = py.import("json")?.call_method1("dumps", (fields,))?;
        let value: serde_json::Value = serde_json::from_str(&json.extract::<String>()?)
            .map_err(|e| SchemaError::new_err(e.to_string()))?;
        kestrel_schema::extend_from_value(&self.inner, &value).map_err(schema_error)
    }

    /// The field at `path`, or None if it is neither declared nor assigned.
    fn lookup(&self, path: &str) -> Option<PyFieldInfo> {
        self.inner.lookup(path).map(Into::into)
    }

    /// The field at `path`, auto-assigning an id (type `unknown`) if new.
    fn resolve(&self, path: &str) -> PyFieldInfo {
        self.inner.resolve(path).into()
    }

    /// The field with id `field_id`.
    fn field(&self, field_id: FieldId) -> PyResult<PyFieldInfo> {
        self.inner
            .field(field_id)
            .map(Into::into)
            .ok_or_else(|| PyKeyError::new_err(field_id))
    }

    /// Every field, in id order.
    fn fields(&self) -> Vec<PyFieldInfo> {
        self.inner.fields().into_iter().map(Into::into).collect()
    }

    /// Type disagreements seen at ingest: `(path, established_type, seen_type)`.
    fn conflicts(&self) -> Vec<(String, String, String)> {
        self.inner
            .conflicts()
            .into_iter()
            .map(|c| {
                (
                    c.path.to_string(),
                    c.expected.to_string(),
                    c.seen.to_string(),
                )
            })
            .collect()
    }

    /// Whether `other` shares this schema's registry (and so its field ids).
    fn same_as(&self, other: &PySchema) -> bool {
        self.inner.identity() == other.inner.identity()
    }

    /// An independent copy: ids assigned in one are not seen by the other.
    fn copy(&self) -> Self {
        PySchema {
            inner: self.inner.fork(),
        }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, path: &str) -> bool {
        self.inner.lookup(path).is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "Schema(name={:?}, version={:?}, fields={})",
            self.inner.name(),
            self.inner.version(),
            self.inner.len()
        )
    }
}

/// Schema and mapping files larger than this are refused rather than read
/// (the rule files' limit): real ones are a few megabytes at most.
const MAX_SCHEMA_FILE_BYTES: u64 = 64 << 20;

/// A mapping given as a dict (or list), JSON text, or a JSON file's path.
fn mapping_value(py: Python<'_>, mapping: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let text = if let Ok(text) = mapping.extract::<String>() {
        if text.trim_start().starts_with('{') {
            text
        } else {
            read_schema_file(&PathBuf::from(text))?
        }
    } else if let Ok(path) = mapping.extract::<PathBuf>() {
        read_schema_file(&path)?
    } else {
        py.import("json")?
            .call_method1("dumps", (mapping,))?
            .extract::<String>()?
    };
    serde_json::from_str(&text)
        .map_err(|e| SchemaError::new_err(format!("index mapping: invalid JSON: {e}")))
}

/// A schema or mapping file's text. Only a regular file is opened (a FIFO
/// would block, a device never end), and no more than the limit is read,
/// even if the file grows meanwhile.
fn read_schema_file(path: &PathBuf) -> PyResult<String> {
    use std::io::Read;
    let refuse = |why: String| SchemaError::new_err(format!("{}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCHEMA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > MAX_SCHEMA_FILE_BYTES {
        return Err(refuse(format!("over {MAX_SCHEMA_FILE_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|e| refuse(format!("not UTF-8 text: {e}")))
}
