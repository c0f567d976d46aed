//! Helpers shared by the integration tests: IR documents and event batches.
#![allow(dead_code)]

use kestrel_event::{DecodeOptions, Decoder, EventBatch, SourceInfo};
use kestrel_schema::Schema;
use serde_json::{json, Value};

/// An event-query document around `nodes`, with the predicate at the last
/// node and the given tables (`{"sets": [...], "globs": [...], ...}`).
pub fn event_doc(nodes: Value, tables: Value) -> Value {
    let count = nodes.as_array().map_or(0, Vec::len);
    let field = |id: u32, path: &str| json!({"field": id, "path": path, "type": "unknown", "optional": false});
    let mut doc = json!({
        "ir_version": 1,
        "schema": {"name": "test", "version": "1"},
        "event_fields": {
            "category": field(1000, "event.category"),
            "timestamp": {"field": 1001, "path": "@timestamp", "type": "unknown", "optional": false, "unit": "ms"},
            "tiebreaker": null
        },
        "rule": {
            "kind": "event",
            "steps": [{"category": null, "predicate": count.saturating_sub(1), "by": [], "runs": 1, "missing": false}],
            "by": [], "maxspan_ns": null, "until": null, "pipes": []
        },
        "nodes": nodes,
        "strings": [], "sets": [], "globs": [], "regexes": []
    });
    if let Value::Object(t) = tables {
        for (k, v) in t {
            doc[k] = v;
        }
    }
    doc
}

/// Decode NDJSON lines into a batch over `schema`.
pub fn batch(schema: &Schema, lines: &[Value]) -> EventBatch {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    Decoder::new(schema.clone(), DecodeOptions::default())
        .decode(text.as_bytes(), &SourceInfo::default())
}

/// A `LoadField` node.
pub fn load(path: &str) -> Value {
    json!({"op": "LoadField", "field": 0, "path": path, "type": "unknown", "optional": false})
}

/// A `Literal` node of the given type.
pub fn lit(ty: &str, value: Value) -> Value {
    json!({"op": "Literal", "type": ty, "value": value})
}
