//! `kestrel.EventBatch`: a columnar batch of events, built from NDJSON or dicts.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use kestrel_event::chunks::{Chunk, LineChunks};
use kestrel_event::{
    DecodeOptions, Decoder, EventBatch, SourceInfo, TimeUnit, ValueRef, NO_TIMESTAMP,
};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rayon::prelude::*;

use crate::errors::{guarded, io_error};
use crate::schema::PySchema;

/// One problem on one input line. The batch still holds every good line.
#[pyclass(module = "kestrel._core", name = "IngestErrorRecord", frozen, get_all)]
#[derive(Clone)]
pub struct PyIngestErrorRecord {
    /// The file or stream name.
    pub source: String,
    /// 1-based line number in the source (item index + 1 for dicts).
    pub line: u32,
    /// `malformed_json`, `not_an_object`, `line_too_long`, `batch_full`,
    /// `wrong_type`, `string_too_long` or `bad_timestamp`.
    pub kind: String,
    /// The field concerned, for field-level problems.
    pub field: Option<String>,
    pub message: String,
    /// Whether the line was dropped (True) or kept with the field nulled.
    pub dropped: bool,
}

#[pymethods]
impl PyIngestErrorRecord {
    fn __repr__(&self) -> String {
        format!(
            "IngestErrorRecord({}:{} {} {:?})",
            self.source, self.line, self.kind, self.message
        )
    }

    fn __str__(&self) -> String {
        let field = self
            .field
            .as_ref()
            .map(|f| format!(" in field {f:?}"))
            .unwrap_or_default();
        format!(
            "{}:{}: {}{}: {}",
            self.source, self.line, self.kind, field, self.message
        )
    }
}

/// A batch of events stored column by column.
///
/// Build one with `EventBatch.from_ndjson(bytes_or_path)` or
/// `EventBatch.from_dicts(list_of_dicts)`. Decoding happens in Rust with the
/// GIL released; problems on individual lines never abort the batch and are
/// listed in `errors`.
#[pyclass(module = "kestrel._core", name = "EventBatch", frozen)]
pub struct PyEventBatch {
    pub inner: Arc<EventBatch>,
    pub schema: PySchema,
}

struct Settings {
    schema: PySchema,
    opts: DecodeOptions,
    first_seq: u64,
}

impl Settings {
    /// Store only `fields` (schema ids; all when `None`), beside the
    /// timestamp, category and entity fields.
    fn storing(mut self, fields: Option<Vec<u32>>) -> Settings {
        self.opts.fields = fields.map(|f| Arc::new(f.into_iter().collect()));
        self
    }
}

/// The decoding keywords `EventBatch.from_ndjson`, `EventBatch.from_dicts`
/// and `NdjsonFile` share. They arrive as `**options`, so their names,
/// defaults and checks are written once, here; each method's
/// `text_signature` shows them to `help()` and to the stubs' test.
struct DecodeKeywords {
    schema: Option<PySchema>,
    source: Option<String>,
    timestamp_field: String,
    timestamp_unit: String,
    category_field: String,
    entity_field: String,
    max_string_bytes: usize,
    max_line_bytes: usize,
    first_seq: u64,
    fields: Option<Vec<u32>>,
}

impl DecodeKeywords {
    /// Read `options` for `method`; `first_seq` is one of its keywords only
    /// when `numbered`.
    fn parse(
        method: &str,
        options: Option<&Bound<'_, PyDict>>,
        numbered: bool,
    ) -> PyResult<DecodeKeywords> {
        let mut k = DecodeKeywords {
            schema: None,
            source: None,
            timestamp_field: "@timestamp".into(),
            timestamp_unit: "ms".into(),
            category_field: "event.category".into(),
            entity_field: "host.id".into(),
            max_string_bytes: 1 << 20,
            max_line_bytes: 16 << 20,
            first_seq: 0,
            fields: None,
        };
        for (key, value) in options.into_iter().flat_map(|o| o.iter()) {
            let key: String = key.extract()?;
            let py = value.py();
            let wrong = |e: PyErr| {
                PyTypeError::new_err(format!("{method}() argument '{key}': {}", e.value(py)))
            };
            match key.as_str() {
                "schema" => k.schema = value.extract().map_err(wrong)?,
                "source" => k.source = value.extract().map_err(wrong)?,
                "timestamp_field" => k.timestamp_field = value.extract().map_err(wrong)?,
                "timestamp_unit" => k.timestamp_unit = value.extract().map_err(wrong)?,
                "category_field" => k.category_field = value.extract().map_err(wrong)?,
                "entity_field" => k.entity_field = value.extract().map_err(wrong)?,
                "max_string_bytes" => k.max_string_bytes = value.extract().map_err(wrong)?,
                "max_line_bytes" => k.max_line_bytes = value.extract().map_err(wrong)?,
                "first_seq" if numbered => k.first_seq = value.extract().map_err(wrong)?,
                "fields" => k.fields = value.extract().map_err(wrong)?,
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "{method}() got an unexpected keyword argument '{key}'"
                    )))
                }
            }
        }
        Ok(k)
    }

    /// The decoder's settings; the source name stays with the caller.
    fn settings(self) -> PyResult<(Settings, Option<String>)> {
        let unit = TimeUnit::parse(&self.timestamp_unit).ok_or_else(|| {
            PyValueError::new_err(format!(
                "timestamp_unit {:?}: expected s, ms, us, ns or filetime",
                self.timestamp_unit
            ))
        })?;
        let settings = Settings {
            schema: self.schema.unwrap_or_else(|| PySchema {
                inner: kestrel_schema::ecs_default(),
            }),
            opts: DecodeOptions {
                timestamp_field: self.timestamp_field,
                timestamp_unit: unit,
                category_field: self.category_field,
                entity_field: self.entity_field,
                max_string_bytes: self.max_string_bytes,
                max_line_bytes: self.max_line_bytes,
                ..DecodeOptions::default()
            },
            first_seq: self.first_seq,
        }
        .storing(self.fields);
        Ok((settings, self.source))
    }
}

fn decode(py: Python<'_>, s: Settings, data: &[u8], name: String) -> PyResult<PyEventBatch> {
    let schema = s.schema.inner.clone();
    let source = SourceInfo {
        name,
        first_line: 1,
        first_seq: s.first_seq,
    };
    let batch = py.detach(|| {
        guarded("decoding events", || {
            Decoder::new(schema, s.opts).decode(data, &source)
        })
    })?;
    Ok(PyEventBatch {
        inner: Arc::new(batch),
        schema: s.schema,
    })
}

impl PyEventBatch {
    fn check_index(&self, index: isize) -> PyResult<usize> {
        let n = self.inner.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if (0..n).contains(&i) {
            Ok(i as usize)
        } else {
            Err(PyIndexError::new_err(format!(
                "event index {index} out of range for a batch of {n}"
            )))
        }
    }
}

pub fn value_to_py<'py>(
    py: Python<'py>,
    batch: &EventBatch,
    v: ValueRef<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        ValueRef::Null => py.None().into_bound(py),
        ValueRef::I64(x) => x.into_pyobject(py)?.into_any(),
        ValueRef::U64(x) => x.into_pyobject(py)?.into_any(),
        ValueRef::F64(x) => x.into_pyobject(py)?.into_any(),
        ValueRef::Bool(x) => x.into_pyobject(py)?.to_owned().into_any(),
        ValueRef::Str(s) => s.into_pyobject(py)?.into_any(),
        ValueRef::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, batch, batch.element(item))?)?;
            }
            list.into_any()
        }
    })
}

#[pymethods]
impl PyEventBatch {
    /// Decode newline-delimited JSON from `bytes`, or from a file when given
    /// a path (`str` or `os.PathLike`).
    #[staticmethod]
    #[pyo3(
        signature = (data, **options),
        text_signature = "(data, *, schema=None, source=None, timestamp_field=\"@timestamp\", timestamp_unit=\"ms\", category_field=\"event.category\", entity_field=\"host.id\", max_string_bytes=1048576, max_line_bytes=16777216, first_seq=0, fields=None)"
    )]
    fn from_ndjson(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (s, source) = DecodeKeywords::parse("from_ndjson", options, true)?.settings()?;
        if let Ok(bytes) = data.cast::<PyBytes>() {
            let name = source.unwrap_or_else(|| "<bytes>".into());
            return decode(py, s, bytes.as_bytes(), name);
        }
        let path: PathBuf = data.extract().map_err(|_| {
            PyTypeError::new_err("from_ndjson expects bytes, or a path as str or os.PathLike")
        })?;
        let content = py
            .detach(|| std::fs::read(&path))
            .map_err(|e| io_error(&path, e))?;
        let name = source.unwrap_or_else(|| path.display().to_string());
        decode(py, s, &content, name)
    }

    /// Build a batch from a list of dicts, nested or with flat dotted keys.
    /// Each item's position (1-based) is its "line" in error records.
    #[staticmethod]
    #[pyo3(
        signature = (events, **options),
        text_signature = "(events, *, schema=None, source=None, timestamp_field=\"@timestamp\", timestamp_unit=\"ms\", category_field=\"event.category\", entity_field=\"host.id\", max_string_bytes=1048576, max_line_bytes=16777216, first_seq=0, fields=None)"
    )]
    fn from_dicts(
        py: Python<'_>,
        events: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (s, source) = DecodeKeywords::parse("from_dicts", options, true)?.settings()?;
        // Serialising each dict once keeps one decoder (and one set of
        // coercion rules) for every input form, and gives each event the
        // original-JSON evidence the alerts carry.
        let dumps = py.import("json")?.getattr("dumps")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("default", py.import("builtins")?.getattr("str")?)?;
        kwargs.set_item("ensure_ascii", false)?;
        kwargs.set_item("separators", (",", ":"))?;
        let mut ndjson = String::new();
        for item in events.try_iter()? {
            let item = item?;
            // A value json cannot encode becomes a malformed line, reported
            // with its position, not an exception that loses the batch.
            // So does text that is not Unicode (a lone surrogate survives
            // json.dumps but has no UTF-8 form).
            match dumps
                .call((item,), Some(&kwargs))
                .and_then(|text| text.extract::<String>())
            {
                Ok(text) => ndjson.push_str(&text),
                Err(e) => {
                    ndjson.push_str(
                        std::str::from_utf8(kestrel_event::UNSERIALISABLE).unwrap_or_default(),
                    );
                    ndjson.push_str(&e.to_string().replace('\n', " "));
                }
            }
            ndjson.push('\n');
        }
        decode(
            py,
            s,
            ndjson.as_bytes(),
            source.unwrap_or_else(|| "<dicts>".into()),
        )
    }

    /// The events as dicts, exactly as they were received (rebuilt from the
    /// original JSON, not from the typed columns).
    fn to_dicts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let loads = py.import("json")?.getattr("loads")?;
        let out = PyList::empty(py);
        for ev in 0..self.inner.len() {
            out.append(loads.call1((PyBytes::new(py, self.inner.raw(ev)),))?)?;
        }
        Ok(out)
    }

    /// The original JSON bytes of event `index`.
    fn raw<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyBytes>> {
        let ev = self.check_index(index)?;
        Ok(PyBytes::new(py, self.inner.raw(ev)))
    }

    /// The stored (typed) value of `path` in event `index`; None when absent.
    fn get<'py>(&self, py: Python<'py>, index: isize, path: &str) -> PyResult<Bound<'py, PyAny>> {
        let ev = self.check_index(index)?;
        match self.schema.inner.lookup(path) {
            Some(def) => value_to_py(py, &self.inner, self.inner.value(ev, def.id)),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The stored values of `path` for every event (None where absent).
    fn column<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let def = self.schema.inner.lookup(path);
        for ev in 0..self.inner.len() {
            let v = def
                .as_ref()
                .map_or(ValueRef::Null, |d| self.inner.value(ev, d.id));
            out.append(value_to_py(py, &self.inner, v)?)?;
        }
        Ok(out)
    }

    /// Epoch nanoseconds of event `index`, or None without a usable timestamp.
    fn timestamp(&self, index: isize) -> PyResult<Option<i64>> {
        let ts = self.inner.timestamp(self.check_index(index)?);
        Ok((ts != NO_TIMESTAMP).then_some(ts))
    }

    /// Epoch nanoseconds of every event (None where missing).
    fn timestamps(&self) -> Vec<Option<i64>> {
        (0..self.inner.len())
            .map(|ev| Some(self.inner.timestamp(ev)).filter(|&t| t != NO_TIMESTAMP))
            .collect()
    }

    /// The event categories of event `index` (ECS allows several).
    fn categories(&self, index: isize) -> PyResult<Vec<String>> {
        Ok(self
            .inner
            .categories(self.check_index(index)?)
            .map(str::to_string)
            .collect())
    }

    /// The distinct event categories that occur in the batch, in order of
    /// first appearance: one call instead of a pass over the column.
    fn category_names(&self) -> Vec<String> {
        self.inner.category_names().to_vec()
    }

    /// The partitioning key of event `index` (`host.id` by default).
    fn entity_key(&self, index: isize) -> PyResult<Option<String>> {
        Ok(self
            .inner
            .entity_key(self.check_index(index)?)
            .map(str::to_string))
    }

    /// The 1-based source line of event `index`.
    fn line(&self, index: isize) -> PyResult<u32> {
        Ok(self.inner.line(self.check_index(index)?))
    }

    /// The ingest sequence number of event `index`.
    fn seq(&self, index: isize) -> PyResult<u64> {
        Ok(self.inner.seq(self.check_index(index)?))
    }

    /// Where the events came from: a file path, `<bytes>` or `<dicts>`.
    #[getter]
    fn source(&self) -> String {
        self.inner.source().to_string()
    }

    /// The schema the batch's field ids belong to.
    #[getter]
    fn schema(&self) -> PySchema {
        self.schema.clone()
    }

    /// Every per-line problem met while decoding.
    #[getter]
    fn errors(&self) -> Vec<PyIngestErrorRecord> {
        self.inner
            .errors()
            .iter()
            .map(|e| PyIngestErrorRecord {
                source: e.source.clone(),
                line: e.line,
                kind: e.kind.as_str().into(),
                field: e.field.clone(),
                message: e.message.clone(),
                dropped: e.kind.drops_event(),
            })
            .collect()
    }

    /// How many input lines did not become events.
    #[getter]
    fn dropped(&self) -> usize {
        self.inner.dropped()
    }

    /// Non-blank input lines read: `len(batch) + batch.dropped`.
    #[getter]
    fn lines_read(&self) -> u64 {
        self.inner.lines_read()
    }

    /// Bytes held by the batch's buffers.
    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.heap_bytes()
    }

    /// The batch's address, for the Lua runtime's FFI host calls. Valid while
    /// this object is alive.
    fn _address(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "EventBatch(events={}, dropped={}, errors={}, source={:?})",
            self.inner.len(),
            self.inner.dropped(),
            self.inner.errors().len(),
            self.inner.source()
        )
    }
}

/// A decoded chunk of a file: its batch, its first line's number and the
/// bytes read up to its end.
type LocatedBatch = (PyEventBatch, u64, u64);

/// Where an undecoded chunk sits in its file, and the ingest number of its
/// first event.
#[derive(Clone, Copy)]
struct Place {
    first_line: u64,
    offset: u64,
    lines: u64,
    first_seq: u64,
}

/// Bytes a line is expected to take at most when a file's chunk buffer is
/// sized up front (ECS events run to one or two kilobytes).
const CHUNK_BYTES_PER_LINE: u64 = 4096;

/// A plain NDJSON file read in chunks of at most `lines` whole lines, each
/// decoded into a batch: what `Engine.process_file` reads plain files with.
/// The chunks pass from one reused buffer straight to the decoder, with no
/// Python object per line or per chunk, and memory stays at about one chunk.
#[pyclass(module = "kestrel._core", name = "NdjsonFile")]
pub struct PyNdjsonFile {
    chunks: LineChunks<File>,
    path: PathBuf,
    settings: Settings,
    source: String,
    /// A read error met after `next_batches` had read some chunks, raised
    /// by the next call.
    failure: Option<std::io::Error>,
    /// One per chunk decoded at once, kept from call to call: a decoder
    /// learns the stream's field paths once, not once per batch.
    decoders: Vec<Decoder>,
}

#[pymethods]
impl PyNdjsonFile {
    #[new]
    #[pyo3(
        signature = (path, lines, **options),
        text_signature = "(path, lines, *, schema=None, source=None, timestamp_field=\"@timestamp\", timestamp_unit=\"ms\", category_field=\"event.category\", entity_field=\"host.id\", max_string_bytes=1048576, max_line_bytes=16777216, fields=None)"
    )]
    fn new(path: PathBuf, lines: usize, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let (settings, source) = DecodeKeywords::parse("NdjsonFile", options, false)?.settings()?;
        let max_line_bytes = settings.opts.max_line_bytes;
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let source = source.unwrap_or_else(|| path.display().to_string());
        // A chunk holds at most the whole file; beyond a few kilobytes a
        // line the guess would only reserve address space nobody fills.
        let size = file.metadata().map_or(0, |m| m.len());
        let room = size.min((lines as u64).saturating_mul(CHUNK_BYTES_PER_LINE));
        let chunks = LineChunks::new(file, lines)
            .with_max_line(max_line_bytes)
            .with_capacity(usize::try_from(room).unwrap_or(0));
        Ok(PyNdjsonFile {
            chunks,
            path,
            settings,
            source,
            failure: None,
            decoders: Vec::new(),
        })
    }

    /// The next chunk of at most `lines` lines, undecoded: its bytes, its
    /// first line's number and the bytes read up to its end; None at the
    /// end of the file. For callers that decode chunks in parallel.
    /// Releases the GIL while reading.
    fn next_chunk<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, u64, u64)>> {
        let chunks = &mut self.chunks;
        let read = py.detach(|| {
            guarded(
                "reading events",
                || -> std::io::Result<Option<(Vec<u8>, u64, u64)>> {
                    Ok(chunks
                        .next_chunk()?
                        .map(|c| (c.data.to_vec(), c.first_line, c.offset)))
                },
            )
        })?;
        let found = read.map_err(|e| io_error(&self.path, e))?;
        Ok(found.map(|(data, first_line, offset)| (PyBytes::new(py, &data), first_line, offset)))
    }

    /// Up to `count` chunks read in turn and decoded on as many threads at
    /// once: `([(batch, first line, bytes read), ...], next ingest number)`,
    /// with an empty list at the end of the file. Each chunk's events are
    /// numbered from `first_seq` on, one number per line of the chunk, so
    /// numbers never depend on which thread decoded what. A read error
    /// after some chunks were read is raised by the next call, once those
    /// chunks are handed back. Releases the GIL.
    fn next_batches(
        &mut self,
        py: Python<'_>,
        first_seq: u64,
        count: usize,
    ) -> PyResult<(Vec<LocatedBatch>, u64)> {
        if let Some(e) = self.failure.take() {
            return Err(io_error(&self.path, e));
        }
        let (schema, opts) = (&self.settings.schema.inner, &self.settings.opts);
        let (chunks, name, decoders) = (&mut self.chunks, &self.source, &mut self.decoders);
        let (decoded, next_seq, failure) = py.detach(|| {
            guarded("reading events", || {
                // Every chunk but the last is copied out of the reader's
                // buffer, which the next read reuses; the last is decoded
                // where it lies, so one chunk at a time copies nothing.
                let count = count.max(1);
                let mut copied = Vec::new();
                let mut seq = first_seq;
                let mut failure = None;
                let mut ended = false;
                // Where each chunk sits in the input, and its ingest numbers.
                let mut place = |c: &Chunk<'_>| {
                    let at = Place {
                        first_line: c.first_line,
                        offset: c.offset,
                        lines: c.lines,
                        first_seq: seq,
                    };
                    seq += c.lines;
                    at
                };
                while copied.len() + 1 < count {
                    match chunks.next_chunk() {
                        Ok(Some(c)) => copied.push((c.data.to_vec(), place(&c))),
                        Ok(None) => ended = true,
                        Err(e) => failure = Some(e),
                    }
                    if ended || failure.is_some() {
                        break;
                    }
                }
                let last = if ended || failure.is_some() {
                    None
                } else {
                    match chunks.next_chunk() {
                        Ok(Some(c)) => Some((c.data, place(&c))),
                        Ok(None) => None,
                        Err(e) => {
                            failure = Some(e);
                            None
                        }
                    }
                };
                let decode = |decoder: &mut Decoder, data: &[u8], at: Place| {
                    let source = SourceInfo {
                        name: name.clone(),
                        first_line: 1,
                        first_seq: at.first_seq,
                    };
                    let batch = decoder.decode_lines(data, at.lines as usize + 1, &source);
                    (batch, at.first_line, at.offset)
                };
                while decoders.len() < copied.len() + 1 {
                    decoders.push(Decoder::new(schema.clone(), opts.clone()));
                }
                let (own, helpers) = decoders.split_first_mut().expect("one decoder at least");
                // On the engine's pool for this many workers, which its
                // pipeline evaluates on too (see `kestrel_engine::threads`).
                let batches = kestrel_engine::threads::within(count, || {
                    let (mut batches, last) = rayon::join(
                        || {
                            copied
                                .par_iter()
                                .zip(helpers.par_iter_mut())
                                .map(|((data, at), decoder)| decode(decoder, data, *at))
                                .collect::<Vec<_>>()
                        },
                        || last.map(|(data, at)| decode(own, data, at)),
                    );
                    batches.extend(last);
                    batches
                });
                (batches, seq, failure)
            })
        })?;
        if let Some(e) = failure {
            if decoded.is_empty() {
                return Err(io_error(&self.path, e));
            }
            self.failure = Some(e);
        }
        let batches = decoded
            .into_iter()
            .map(|(batch, first_line, offset)| {
                let batch = PyEventBatch {
                    inner: Arc::new(batch),
                    schema: self.settings.schema.clone(),
                };
                (batch, first_line, offset)
            })
            .collect();
        Ok((batches, next_seq))
    }

    /// The next batch, its first line's number in the file and the bytes
    /// read up to its end; None at the end of the file. Event ingest
    /// numbers start at `first_seq`. Error records number lines from the
    /// batch's first line, as `from_ndjson` does. Releases the GIL.
    fn next_batch(&mut self, py: Python<'_>, first_seq: u64) -> PyResult<Option<LocatedBatch>> {
        let (mut found, _) = self.next_batches(py, first_seq, 1)?;
        Ok(found.pop())
    }
}
