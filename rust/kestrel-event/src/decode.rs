//! ECS JSON → EventBatch: NDJSON is split into lines, each line is parsed
//! with simd-json, nested objects are flattened to dotted paths, and every
//! leaf is coerced to its field's type and appended to its column.

use std::borrow::Cow;
use std::sync::Arc;

use ahash::AHashSet;
use kestrel_schema::{FieldId, FieldType, ScalarType, Schema};
use simd_json::tape::{Node, Tape};
use simd_json::StaticNode;

use crate::batch::{EventBatch, Span, Value};
use crate::builder::Reject;
use crate::dedup::Dedup;
use crate::errors::{IngestErrorKind, IngestErrorRecord};
use crate::paths::{NodeId, PathTrie, Slot, ROOT};
use crate::time::{parse_text, TimeUnit};

/// How events are read: which fields play which role, and input limits.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    pub timestamp_field: String,
    pub timestamp_unit: TimeUnit,
    pub category_field: String,
    pub entity_field: String,
    /// Longer strings are rejected (the field is nulled and the line reported).
    pub max_string_bytes: usize,
    /// Longer lines are rejected whole.
    pub max_line_bytes: usize,
    /// Lines whose objects and arrays nest deeper are rejected whole.
    pub max_depth: usize,
    /// Fields (leaf values) stored per event; the rest stay only in the
    /// event's original JSON.
    pub max_fields_per_event: usize,
    /// A batch's columns may hold this many cells per input byte (plus a
    /// fixed allowance); a field that would need a new column beyond it is
    /// kept only in the original JSON. Columns are dense, so without it a
    /// stream of distinct keys costs keys x events.
    pub column_cells_per_byte: usize,
    /// When set, only these fields (and the timestamp, category and entity
    /// fields) are stored: the rest stay only in the event's original JSON,
    /// uncounted. An engine sets it to the fields its rules read.
    pub fields: Option<Arc<AHashSet<FieldId>>>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            timestamp_field: "@timestamp".into(),
            timestamp_unit: TimeUnit::Millis,
            category_field: "event.category".into(),
            entity_field: "host.id".into(),
            max_string_bytes: 1 << 20,
            max_line_bytes: 16 << 20,
            max_depth: 128,
            max_fields_per_event: 10_000,
            column_cells_per_byte: 4,
            fields: None,
        }
    }
}

/// Where a batch's lines come from, for error records and evidence.
#[derive(Clone, Debug, Default)]
pub struct SourceInfo {
    pub name: String,
    /// The line number of the first line of the input (1-based).
    pub first_line: u32,
    /// The ingest sequence number of the first event.
    pub first_seq: u64,
}

/// The line `EventBatch.from_dicts` writes for a dict JSON cannot encode,
/// followed by the reason.
pub const UNSERIALISABLE: &[u8] = b"!unserialisable: ";

const ROLE_TIMESTAMP: u8 = 1;
const ROLE_CATEGORY: u8 = 2;
const ROLE_ENTITY: u8 = 4;

/// Column cells every batch may use whatever its size.
const BASE_COLUMN_CELLS: usize = 1 << 22;
/// The path cache is a cache: past this many nodes it starts again, so a
/// stream of distinct keys cannot grow it without bound.
const MAX_TRIE_NODES: usize = 1 << 20;
/// Fields the decoder adds to the shared schema on its own; later unknown
/// fields are kept only in the original JSON.
const MAX_AUTO_FIELDS: usize = 1 << 18;

/// A reusable decoder. It caches path→field resolutions across batches of
/// one stream (see [`PathTrie`]), and reuses its parse buffers.
pub struct Decoder {
    schema: Schema,
    opts: DecodeOptions,
    paths: PathTrie,
    scratch: Vec<u8>,
    /// Taken out while a line is parsed (see `decode_line`).
    buffers: Option<simd_json::Buffers>,
    // Kept between lines only to reuse its allocation; always empty then.
    tape: Option<Tape<'static>>,
    /// Lines in the batch being decoded: every column is padded to it.
    lines_hint: usize,
    /// Column cells the batch being decoded may still claim.
    cells_left: usize,
    /// Reset per batch: spans point into one batch's arena.
    dedup: Dedup,
    /// Kept between events only to reuse its allocation.
    categories: Vec<u16>,
    /// With a field projection: every path that leads to a stored field.
    prefixes: Option<AHashSet<String>>,
}

/// The per-event state the walker threads through.
struct EventCtx<'b> {
    batch: &'b mut EventBatch,
    ev: usize,
    line: u32,
    categories: Vec<u16>,
    /// Fields stored for this event so far, and those left out.
    fields: usize,
    fields_dropped: usize,
    duplicates: usize,
}

impl Decoder {
    pub fn new(schema: Schema, opts: DecodeOptions) -> Self {
        let prefixes = opts.fields.as_ref().map(|fields| {
            let mut paths: Vec<String> = fields
                .iter()
                .filter_map(|&f| schema.field(f))
                .map(|def| def.path.to_string())
                .collect();
            paths.extend([
                opts.timestamp_field.clone(),
                opts.category_field.clone(),
                opts.entity_field.clone(),
            ]);
            // Every leading part of a stored path: "process", "process.parent", ...
            let mut prefixes = AHashSet::new();
            for path in paths {
                let mut end = 0;
                while let Some(dot) = path[end..].find('.') {
                    prefixes.insert(path[..end + dot].to_string());
                    end += dot + 1;
                }
                prefixes.insert(path);
            }
            prefixes
        });
        Decoder {
            prefixes,
            schema,
            opts,
            paths: PathTrie::new(),
            scratch: Vec::new(),
            buffers: None,
            tape: None,
            lines_hint: 0,
            cells_left: 0,
            dedup: Dedup::default(),
            categories: Vec::new(),
        }
    }

    pub fn options(&self) -> &DecodeOptions {
        &self.opts
    }

    /// Decode newline-delimited JSON into one batch. Never fails: problems
    /// become the batch's error records.
    pub fn decode(&mut self, input: &[u8], source: &SourceInfo) -> EventBatch {
        let lines = memchr::memchr_iter(b'\n', input).count() + 1;
        self.decode_lines(input, lines, source)
    }

    /// [`Decoder::decode`] for a caller that has counted the input's lines
    /// already: `lines` sizes the batch's columns (a wrong count costs
    /// time, never events).
    pub fn decode_lines(&mut self, input: &[u8], lines: usize, source: &SourceInfo) -> EventBatch {
        let mut batch = EventBatch {
            source: source.name.clone(),
            first_seq: source.first_seq,
            ..Default::default()
        };
        batch.category_offsets.push(0);
        self.dedup = Dedup::default();
        // Rough pre-sizing: ECS events run to about a kilobyte.
        self.lines_hint = lines.max(1);
        // A batch holds at most one event per line.
        let guess = (input.len() / 512 + 1).min(1 << 20).min(self.lines_hint);
        self.cells_left = BASE_COLUMN_CELLS
            .saturating_add(input.len().saturating_mul(self.opts.column_cells_per_byte));
        if self.paths.len() > MAX_TRIE_NODES {
            self.paths = PathTrie::new();
        }
        Arc::make_mut(&mut batch.raw).reserve(input.len());
        batch.arena.reserve(input.len() / 2);
        batch.lines.reserve(guess);
        batch.timestamps.reserve(guess);
        batch.raw_spans.reserve(guess);

        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let mut line_no = source.first_line.max(1);
        let mut start = 0;
        while start <= input.len() {
            let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i);
            let mut line = &input[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            // Blank means JSON's whitespace only: a line of anything else
            // (a form feed, a vertical tab) is a record, malformed and counted.
            if !line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                batch.lines_read += 1;
                self.decode_line(&mut batch, line, line_no);
            }
            line_no = line_no.saturating_add(1);
            start = end + 1;
        }
        for col in &mut batch.columns {
            col.finish(batch.len);
        }
        // Read by every sequence rule for every batch: worked out once here.
        batch.newest = batch
            .timestamps
            .iter()
            .copied()
            .filter(|&t| t != crate::batch::NO_TIMESTAMP)
            .max();
        batch
    }

    fn decode_line(&mut self, batch: &mut EventBatch, line: &[u8], line_no: u32) {
        let reject = |batch: &mut EventBatch, kind, message: String| {
            batch.errors.push(IngestErrorRecord {
                source: batch.source.clone(),
                line: line_no,
                kind,
                field: None,
                message,
            });
        };
        if line.len() > self.opts.max_line_bytes {
            let msg = format!(
                "{} bytes, over the limit of {}",
                line.len(),
                self.opts.max_line_bytes
            );
            return reject(batch, IngestErrorKind::LineTooLong, msg);
        }
        if batch.raw.len() + line.len() > u32::MAX as usize {
            return reject(
                batch,
                IngestErrorKind::BatchFull,
                "batch buffers are full".into(),
            );
        }
        // `EventBatch.from_dicts` writes this line for a dict it could not
        // serialise; its reason says more than any JSON error would.
        if let Some(reason) = line.strip_prefix(UNSERIALISABLE) {
            let message = format!(
                "the event could not be written as JSON: {}",
                String::from_utf8_lossy(reason)
            );
            return reject(batch, IngestErrorKind::MalformedJson, message);
        }
        // simd-json parses in place, so it gets a scratch copy; the original
        // bytes are kept untouched as the event's evidence.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(line);
        // Taken, not `mem::take`n: a default `Buffers` allocates four
        // vectors, which would be made and freed again for every line.
        let mut buffers = self.buffers.take().unwrap_or_default();
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        match simd_json::fill_tape(&mut scratch, &mut buffers, &mut tape) {
            Err(e) => reject(
                batch,
                IngestErrorKind::MalformedJson,
                json_error_message(&e, line),
            ),
            Ok(())
                if may_nest_deeper(line, self.opts.max_depth)
                    && nesting_depth(&tape.0) > self.opts.max_depth =>
            {
                let msg = format!(
                    "objects and arrays nest deeper than the limit of {}",
                    self.opts.max_depth
                );
                reject(batch, IngestErrorKind::TooDeep, msg)
            }
            Ok(()) => match tape.0.first() {
                Some(Node::Object { len, .. }) => {
                    let len = *len;
                    let ev = self.start_event(batch, line, line_no);
                    let mut categories = std::mem::take(&mut self.categories);
                    categories.clear();
                    let mut ctx = EventCtx {
                        batch,
                        ev,
                        line: line_no,
                        categories,
                        fields: 0,
                        fields_dropped: 0,
                        duplicates: 0,
                    };
                    self.walk_object(&mut ctx, &tape.0, 1, len, ROOT, false);
                    self.report_event_counts(&mut ctx);
                    let EventCtx {
                        batch, categories, ..
                    } = ctx;
                    batch.category_ids.extend_from_slice(&categories);
                    batch.category_offsets.push(batch.category_ids.len() as u32);
                    list_by_category(batch, ev, &categories);
                    self.categories = categories;
                }
                first => {
                    let kind = first.map_or("nothing", node_kind);
                    reject(
                        batch,
                        IngestErrorKind::NotAnObject,
                        format!("expected a JSON object, got {kind}"),
                    )
                }
            },
        }
        self.tape = Some(tape.reset());
        self.scratch = scratch;
        self.buffers = Some(buffers);
    }

    /// Open a new event for `line`, returning its index.
    fn start_event(&mut self, batch: &mut EventBatch, line: &[u8], line_no: u32) -> usize {
        let raw_off = batch.raw.len() as u32;
        Arc::make_mut(&mut batch.raw).extend_from_slice(line);
        batch
            .raw_spans
            .push(Span::new(raw_off, line.len() as u32, true));
        batch.lines.push(line_no);
        batch.timestamps.push(crate::batch::NO_TIMESTAMP);
        batch.entity_keys.push(None);
        batch.len += 1;
        batch.len - 1
    }

    /// Walk the `len` key/value pairs starting at tape index `i`; returns the
    /// index after the object.
    fn walk_object(
        &mut self,
        ctx: &mut EventCtx<'_>,
        tape: &[Node<'_>],
        mut i: usize,
        len: usize,
        node: NodeId,
        in_array: bool,
    ) -> usize {
        self.paths.rewind(node);
        for _ in 0..len {
            let Node::String(key) = tape[i] else {
                unreachable!("object keys are strings")
            };
            let child = self.paths.child(node, key);
            i = self.walk_value(ctx, tape, i + 1, child, in_array);
        }
        i
    }

    fn walk_value(
        &mut self,
        ctx: &mut EventCtx<'_>,
        tape: &[Node<'_>],
        i: usize,
        node: NodeId,
        in_array: bool,
    ) -> usize {
        match tape[i] {
            Node::Object { count, .. } | Node::Array { count, .. } if !self.stores_under(node) => {
                i + 1 + count
            }
            Node::Object { len, .. } => {
                let roles = self.roles_of(node);
                if roles != 0 {
                    self.wrong_shape(ctx, node, roles);
                }
                self.walk_object(ctx, tape, i + 1, len, node, in_array)
            }
            // Arrays of objects flatten the way Elasticsearch's object
            // mapping does: each leaf path gathers the values of all
            // elements. Nested arrays flatten into one list.
            Node::Array { len, .. } => {
                let mut j = i + 1;
                for _ in 0..len {
                    j = self.walk_value(ctx, tape, j, node, true);
                }
                j
            }
            Node::String(s) => {
                self.leaf(ctx, node, Scalar::Str(s), in_array);
                i + 1
            }
            Node::Static(st) => {
                self.leaf(ctx, node, Scalar::from_static(st), in_array);
                i + 1
            }
        }
    }

    /// Whether anything under `node` can be stored: always without a field
    /// projection; with one, when the node's path leads to a stored field
    /// or a role. An object or array where nothing can be stored is skipped
    /// whole on the tape, unwalked.
    fn stores_under(&mut self, node: NodeId) -> bool {
        let Some(prefixes) = &self.prefixes else {
            return true;
        };
        if let Some(stores) = self.paths.stores(node) {
            return stores;
        }
        let stores = prefixes.contains(&self.paths.path(node));
        self.paths.set_stores(node, stores);
        stores
    }

    /// The field at `node`, resolved once and cached on the trie; `None`
    /// when it is unknown and the schema already holds as many fields as
    /// the decoder may add.
    fn slot(&mut self, node: NodeId) -> Option<Slot> {
        if let Some(slot) = self.paths.slot(node) {
            return Some(slot);
        }
        let path = self.paths.path(node);
        let roles = self.roles_of(node);
        if let Some(wanted) = &self.opts.fields {
            let known = self.schema.lookup(&path);
            if roles == 0 && known.as_ref().is_none_or(|def| !wanted.contains(&def.id)) {
                let slot = Slot {
                    field: FieldId::MAX,
                    ty: FieldType::scalar(ScalarType::Unknown),
                    roles: 0,
                    auto: false,
                    skip: true,
                };
                self.paths.set_slot(node, slot);
                return Some(slot);
            }
        }
        let def = match self.schema.lookup(&path) {
            Some(def) => def,
            None if self.schema.len() >= MAX_AUTO_FIELDS => return None,
            None => self.schema.resolve(&path),
        };
        let slot = Slot {
            field: def.id,
            ty: def.ty,
            roles,
            auto: def.auto,
            skip: false,
        };
        self.paths.set_slot(node, slot);
        Some(slot)
    }

    /// The roles (timestamp, category, entity) the path at `node` plays.
    fn roles_of(&mut self, node: NodeId) -> u8 {
        if let Some(roles) = self.paths.roles(node) {
            return roles;
        }
        let path = self.paths.path(node);
        let mut roles = 0;
        if path == self.opts.timestamp_field {
            roles |= ROLE_TIMESTAMP;
        }
        if path == self.opts.category_field {
            roles |= ROLE_CATEGORY;
        }
        if path == self.opts.entity_field {
            roles |= ROLE_ENTITY;
        }
        self.paths.set_roles(node, roles);
        roles
    }

    /// An object where the timestamp or category belongs: the event keeps
    /// no timestamp (or no category from it), and the line says why.
    fn wrong_shape(&self, ctx: &mut EventCtx<'_>, node: NodeId, roles: u8) {
        let (kind, what) = if roles & ROLE_TIMESTAMP != 0 {
            (IngestErrorKind::BadTimestamp, "a timestamp")
        } else if roles & ROLE_CATEGORY != 0 {
            (IngestErrorKind::WrongType, "category names")
        } else {
            return;
        };
        ctx.batch.errors.push(IngestErrorRecord {
            source: ctx.batch.source.clone(),
            line: ctx.line,
            kind,
            field: Some(self.paths.path(node)),
            message: format!("expected {what}, got an object"),
        });
    }

    /// One record per event for its fields over the limits and its repeated keys.
    fn report_event_counts(&self, ctx: &mut EventCtx<'_>) {
        let mut report = |kind, message: String| {
            ctx.batch.errors.push(IngestErrorRecord {
                source: ctx.batch.source.clone(),
                line: ctx.line,
                kind,
                field: None,
                message,
            });
        };
        if ctx.fields_dropped > 0 {
            let message = format!(
                "{} field value(s) over the limits ({} per event, a batch's column budget, or the schema's field count) are only in the original JSON",
                ctx.fields_dropped, self.opts.max_fields_per_event
            );
            report(IngestErrorKind::TooManyFields, message);
        }
        if ctx.duplicates > 0 {
            report(
                IngestErrorKind::DuplicateKey,
                format!(
                    "{} repeated key(s); the last value of each is kept",
                    ctx.duplicates
                ),
            );
        }
    }

    fn leaf(&mut self, ctx: &mut EventCtx<'_>, node: NodeId, value: Scalar<'_>, in_array: bool) {
        if value == Scalar::Null {
            return;
        }
        let Some(mut slot) = self.slot(node) else {
            ctx.fields_dropped += 1;
            return;
        };
        if slot.skip {
            return; // not a field anyone reads
        }
        if ctx.fields >= self.opts.max_fields_per_event {
            ctx.fields_dropped += 1;
            return;
        }
        if slot.roles != 0 {
            self.apply_roles(ctx, node, slot.roles, value);
        }
        if slot.ty.scalar == ScalarType::Unknown {
            // First sighting of an unknown field settles its type.
            let def = self.schema.observe(
                &self.paths.path(node),
                FieldType::scalar(value.natural_type()),
            );
            slot.ty = def.ty;
            self.paths.set_slot(node, slot);
        }
        let col = match ctx.batch.existing_column(slot.field) {
            Some(col) => {
                if !in_array && ctx.batch.columns[col].is_valid(ctx.ev) {
                    ctx.duplicates += 1;
                }
                col
            }
            None => {
                // Every column is padded to the batch's length at the end,
                // so it is sized for every line from the start: growing it
                // would copy it (and fault in fresh pages) several times.
                let cells = self.lines_hint.max(1);
                if cells > self.cells_left {
                    ctx.fields_dropped += 1;
                    return;
                }
                self.cells_left -= cells;
                ctx.batch.column_index(slot.field, slot.ty, cells)
            }
        };
        ctx.fields += 1;
        let mut strings = Strings {
            dedup: &mut self.dedup,
            col,
        };
        let stored = match coerce(
            ctx.batch,
            &mut strings,
            value,
            slot.ty.scalar,
            self.opts.max_string_bytes,
        ) {
            Ok(v) => v,
            Err(Reject::WrongType(_)) if slot.auto => {
                // An inferred type is only a guess: keep the value as it came
                // (the column becomes mixed) and record the conflict once.
                let natural = value.natural_type();
                self.schema
                    .record_conflict(slot.field, FieldType::scalar(natural));
                match coerce(
                    ctx.batch,
                    &mut strings,
                    value,
                    natural,
                    self.opts.max_string_bytes,
                ) {
                    Ok(v) => v,
                    Err(r) => return self.field_error(ctx, node, r),
                }
            }
            Err(r) => return self.field_error(ctx, node, r),
        };
        ctx.batch.columns[col].put(ctx.ev, stored, in_array);
    }

    fn field_error(&self, ctx: &mut EventCtx<'_>, node: NodeId, reject: Reject) {
        let (kind, message) = match reject {
            Reject::WrongType(m) => (IngestErrorKind::WrongType, m),
            Reject::TooLong(n) => (
                IngestErrorKind::StringTooLong,
                format!(
                    "{n} bytes, over the limit of {}",
                    self.opts.max_string_bytes
                ),
            ),
            Reject::ArenaFull => (IngestErrorKind::BatchFull, "string arena is full".into()),
        };
        ctx.batch.errors.push(IngestErrorRecord {
            source: ctx.batch.source.clone(),
            line: ctx.line,
            kind,
            field: Some(self.paths.path(node)),
            message,
        });
    }

    fn apply_roles(&mut self, ctx: &mut EventCtx<'_>, node: NodeId, roles: u8, value: Scalar<'_>) {
        if roles & ROLE_TIMESTAMP != 0 {
            let unit = self.opts.timestamp_unit;
            let parsed = match value {
                Scalar::I64(n) => unit.int_to_nanos(n),
                Scalar::U64(n) => i64::try_from(n).ok().and_then(|n| unit.int_to_nanos(n)),
                Scalar::F64(x) => unit.to_nanos(x),
                Scalar::Str(s) => parse_text(s, unit),
                Scalar::Bool(_) | Scalar::Null => None,
            };
            match parsed {
                Some(ns) => ctx.batch.timestamps[ctx.ev] = ns,
                None => ctx.batch.errors.push(IngestErrorRecord {
                    source: ctx.batch.source.clone(),
                    line: ctx.line,
                    kind: IngestErrorKind::BadTimestamp,
                    field: Some(self.paths.path(node)),
                    message: format!("cannot read {} as a timestamp", value.describe()),
                }),
            }
        }
        if roles & ROLE_CATEGORY != 0 {
            if let Some(text) = value.text() {
                let id = intern_category(ctx.batch, &text);
                if !ctx.categories.contains(&id) {
                    ctx.categories.push(id);
                }
            }
        }
        if roles & ROLE_ENTITY != 0 && ctx.batch.entity_keys[ctx.ev].is_none() {
            if let Some(text) = value.text() {
                ctx.batch.entity_keys[ctx.ev] = ctx.batch.intern(&text).ok();
            }
        }
    }
}

/// Add event `ev` to the list of each of its categories (once per category).
fn list_by_category(batch: &mut EventBatch, ev: usize, categories: &[u16]) {
    for &c in categories {
        let c = c as usize;
        if batch.category_lists.len() <= c {
            batch.category_lists.resize_with(c + 1, Vec::new);
        }
        let list = &mut batch.category_lists[c];
        if list.last() != Some(&(ev as u32)) {
            list.push(ev as u32);
        }
    }
}

fn intern_category(batch: &mut EventBatch, name: &str) -> u16 {
    if let Some(i) = batch.category_names.iter().position(|n| n == name) {
        return i as u16;
    }
    // Categories are a small closed vocabulary in ECS; a stream that exceeds
    // u16 distinct values folds the excess into the last slot.
    let id = batch.category_names.len().min(u16::MAX as usize) as u16;
    if (id as usize) == batch.category_names.len() {
        batch.category_names.push(name.to_string());
    }
    id
}

/// A JSON leaf value, borrowed from the parse buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scalar<'a> {
    Null,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
}

impl<'a> Scalar<'a> {
    fn from_static(node: StaticNode) -> Scalar<'a> {
        match node {
            StaticNode::I64(n) => Scalar::I64(n),
            StaticNode::U64(n) => Scalar::U64(n),
            StaticNode::F64(x) => Scalar::F64(x),
            StaticNode::Bool(b) => Scalar::Bool(b),
            StaticNode::Null => Scalar::Null,
        }
    }

    /// The type an unknown field takes from its first value.
    fn natural_type(self) -> ScalarType {
        match self {
            Scalar::I64(_) => ScalarType::I64,
            Scalar::U64(n) if n <= i64::MAX as u64 => ScalarType::I64,
            Scalar::U64(_) => ScalarType::U64,
            Scalar::F64(_) => ScalarType::F64,
            Scalar::Bool(_) => ScalarType::Bool,
            Scalar::Str(_) | Scalar::Null => ScalarType::String,
        }
    }

    /// The text of a scalar, as Elasticsearch indexes it into a keyword field.
    fn text(self) -> Option<Cow<'a, str>> {
        Some(match self {
            Scalar::Str(s) => Cow::Borrowed(s),
            Scalar::I64(n) => Cow::Owned(n.to_string()),
            Scalar::U64(n) => Cow::Owned(n.to_string()),
            Scalar::F64(x) => Cow::Owned(x.to_string()),
            Scalar::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            Scalar::Null => return None,
        })
    }

    fn kind(self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::I64(_) | Scalar::U64(_) | Scalar::F64(_) => "a number",
            Scalar::Str(_) => "a string",
        }
    }

    fn describe(self) -> String {
        match self {
            Scalar::Str(s) => format!("{:?}", trunc(s)),
            other => other
                .text()
                .map_or_else(|| "null".into(), |t| t.into_owned()),
        }
    }
}

/// Where a leaf's text goes: its column's deduplicated strings.
struct Strings<'d> {
    dedup: &'d mut Dedup,
    col: usize,
}

/// Convert a JSON scalar to a stored value of type `target`, coercing where
/// Elasticsearch would (numeric strings into number fields, numbers into
/// keyword fields) and refusing where it would reject the document.
// Inlined into `leaf` (with `Dedup::intern`): called out of line, the
// results came back through the stack and were read with wider loads than
// they were written with, a store-forwarding stall per stored value.
#[inline(always)]
fn coerce(
    batch: &mut EventBatch,
    strings: &mut Strings<'_>,
    value: Scalar<'_>,
    target: ScalarType,
    max_string: usize,
) -> Result<Value, Reject> {
    use ScalarType as T;
    let wrong = |what: &str| Reject::WrongType(format!("expected {target}, got {what}"));
    let not_a_number = |s: &str| wrong(&format!("the string {:?}", trunc(s)));
    let v = match (target, value) {
        (T::I64, Scalar::I64(n)) => Value::I64(n),
        (T::I64, Scalar::U64(n)) => {
            Value::I64(i64::try_from(n).map_err(|_| wrong("an integer above the i64 range"))?)
        }
        (T::I64, Scalar::F64(x)) if x.fract() == 0.0 && x.abs() < 9.2e18 => Value::I64(x as i64),
        (T::I64, Scalar::Str(s)) => Value::I64(s.trim().parse().map_err(|_| not_a_number(s))?),
        (T::U64, Scalar::U64(n)) => Value::U64(n),
        (T::U64, Scalar::I64(n)) => {
            Value::U64(u64::try_from(n).map_err(|_| wrong("a negative integer"))?)
        }
        (T::U64, Scalar::Str(s)) => Value::U64(s.trim().parse().map_err(|_| not_a_number(s))?),
        (T::F64, Scalar::F64(x)) => Value::F64(x),
        (T::F64, Scalar::I64(n)) => Value::F64(n as f64),
        (T::F64, Scalar::U64(n)) => Value::F64(n as f64),
        (T::F64, Scalar::Str(s)) => Value::F64(s.trim().parse().map_err(|_| not_a_number(s))?),
        (T::Bool, Scalar::Bool(b)) => Value::Bool(b),
        (T::Bool, Scalar::Str(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
        (
            T::String | T::Ip | T::Bytes | T::Timestamp | T::DateNanos | T::Version | T::Unknown,
            v,
        ) => Value::Str(match v {
            // Text taken as it is, without the `Cow` of `Scalar::text`: the
            // common case, kept out of memory round trips.
            Scalar::Str(text) => store_text(batch, strings, text, max_string)?,
            v => {
                let text = v.text().ok_or_else(|| wrong(v.kind()))?;
                store_text(batch, strings, &text, max_string)?
            }
        }),
        (_, v) => return Err(wrong(v.kind())),
    };
    Ok(v)
}

/// `text`'s span in its column, refused when longer than `max_string`.
#[inline(always)]
fn store_text(
    batch: &mut EventBatch,
    strings: &mut Strings<'_>,
    text: &str,
    max_string: usize,
) -> Result<Span, Reject> {
    if text.len() > max_string {
        return Err(Reject::TooLong(text.len()));
    }
    strings.dedup.intern(batch, strings.col, text)
}

fn node_kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::String(_) => "a string",
        Node::Array { .. } => "an array",
        Node::Object { .. } => "an object",
        Node::Static(s) => Scalar::from_static(*s).kind(),
    }
}

fn trunc(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn json_error_message(err: &simd_json::Error, line: &[u8]) -> String {
    let col = err.index().min(line.len());
    match err.error() {
        // The parser's internal states say nothing to a user; the byte does.
        simd_json::ErrorType::InternalError(_) => match line.get(col) {
            Some(byte) => format!(
                "invalid JSON at column {}: unexpected byte 0x{byte:02x}",
                col + 1
            ),
            None => format!("invalid JSON at column {}", col + 1),
        },
        other => format!("invalid JSON at column {}: {other:?}", col + 1),
    }
}

/// Whether the line has more than `limit` opening brackets: only then can
/// it nest deeper than `limit`, and the tape needs a look (brackets inside
/// strings only make this say yes more often).
fn may_nest_deeper(line: &[u8], limit: usize) -> bool {
    // Counted in blocks with a byte-wide total, which compiles to vector
    // compares: a search that stops at each bracket costs far more per line.
    let mut brackets = 0;
    for block in line.chunks(255) {
        let found: u8 = block
            .iter()
            .map(|&b| u8::from(b == b'{') + u8::from(b == b'['))
            .sum();
        brackets += usize::from(found);
        if brackets > limit {
            return true;
        }
    }
    false
}

/// How deeply the line's objects and arrays nest, counted without
/// recursion (each container's node count says where it ends).
fn nesting_depth(tape: &[Node<'_>]) -> usize {
    let mut ends: Vec<usize> = Vec::new();
    let mut deepest = 0;
    for (i, node) in tape.iter().enumerate() {
        while ends.last().is_some_and(|&end| end <= i) {
            ends.pop();
        }
        if let Node::Object { count, .. } | Node::Array { count, .. } = node {
            ends.push(i + 1 + count);
            deepest = deepest.max(ends.len());
        }
    }
    deepest
}
