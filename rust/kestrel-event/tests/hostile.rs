//! Hostile input: each line ends as a stored event or a located error
//! record, within bounded memory and time.

use kestrel_event::{DecodeOptions, Decoder, EventBatch, IngestErrorKind, SourceInfo};
use kestrel_schema::Schema;

fn decode_with(input: &str, opts: DecodeOptions) -> (EventBatch, Schema) {
    let schema = kestrel_schema::ecs_default();
    let batch = Decoder::new(schema.clone(), opts).decode(input.as_bytes(), &SourceInfo::default());
    (batch, schema)
}

fn decode(input: &str) -> (EventBatch, Schema) {
    decode_with(input, DecodeOptions::default())
}

fn kinds(batch: &EventBatch) -> Vec<IngestErrorKind> {
    batch.errors().iter().map(|e| e.kind).collect()
}

#[test]
fn deep_nesting_is_a_too_deep_record_not_a_crash() {
    let objects = format!("{}1{}", "{\"a\":".repeat(30_000), "}".repeat(30_000));
    let arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let input = format!("{objects}\n{{\"x\":{arrays}}}\n{{\"ok\":1}}\n");
    let (batch, _) = decode(&input);
    assert_eq!(batch.len(), 1);
    assert_eq!(
        kinds(&batch),
        [IngestErrorKind::TooDeep, IngestErrorKind::TooDeep]
    );
    assert_eq!(batch.errors()[1].line, 2);
}

#[test]
fn nesting_up_to_the_limit_is_kept() {
    let opts = DecodeOptions {
        max_depth: 4,
        ..DecodeOptions::default()
    };
    let (batch, schema) = decode_with(
        "{\"a\":{\"b\":[1,[2]]},\"c\":3}\n{\"a\":{\"b\":[[[1]]]}}\n",
        opts,
    );
    assert_eq!(batch.len(), 1);
    assert_eq!(kinds(&batch), [IngestErrorKind::TooDeep]);
    assert!(schema.lookup("a.b").is_some());
}

#[test]
fn distinct_keys_stay_within_the_column_budget() {
    // Every event has a key of its own: dense columns would cost keys x events.
    let input: String = (0..50_000).map(|i| format!("{{\"k{i}\":1}}\n")).collect();
    let opts = DecodeOptions {
        column_cells_per_byte: 1,
        ..DecodeOptions::default()
    };
    let (batch, _) = decode_with(&input, opts);
    assert_eq!(batch.len(), 50_000);
    let dropped = kinds(&batch)
        .iter()
        .filter(|k| **k == IngestErrorKind::TooManyFields)
        .count();
    assert!(dropped > 40_000, "{dropped}");
}

#[test]
fn fields_over_the_per_event_limit_are_counted() {
    let fields: Vec<String> = (0..50).map(|i| format!("\"f{i}\":{i}")).collect();
    let input = format!("{{{}}}\n", fields.join(","));
    let opts = DecodeOptions {
        max_fields_per_event: 10,
        ..DecodeOptions::default()
    };
    let (batch, _) = decode_with(&input, opts);
    assert_eq!(batch.len(), 1);
    assert_eq!(kinds(&batch), [IngestErrorKind::TooManyFields]);
    assert!(
        batch.errors()[0].message.starts_with("40 field value(s)"),
        "{}",
        batch.errors()[0].message
    );
}

#[test]
fn many_conflicting_values_are_not_quadratic() {
    // One long line of distinct fields, each seen first as a number, then as text.
    let first: String = (0..20_000).map(|i| format!("{{\"c{i}\":1}}\n")).collect();
    let second: Vec<String> = (0..20_000).map(|i| format!("\"c{i}\":\"x\"")).collect();
    let started = std::time::Instant::now();
    let schema = kestrel_schema::ecs_default();
    let mut decoder = Decoder::new(schema.clone(), DecodeOptions::default());
    decoder.decode(first.as_bytes(), &SourceInfo::default());
    let batch = decoder.decode(
        format!("{{{}}}\n", second.join(",")).as_bytes(),
        &SourceInfo::default(),
    );
    assert_eq!(batch.len(), 1);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert!(schema.conflicts().len() <= 1024);
}

#[test]
fn wrong_shapes_and_repeated_keys_are_reported() {
    let input = concat!(
        "{\"@timestamp\": {\"a\": 1}, \"event\": {\"category\": \"process\"}}\n",
        "{\"@timestamp\": \"2026-01-01T00:00:00Z\", \"event\": {\"category\": {\"x\": \"process\"}}}\n",
        "{\"process\": {\"pid\": 1, \"pid\": 2}, \"process.pid\": 3}\n",
    );
    let (batch, _) = decode(input);
    assert_eq!(batch.len(), 3);
    let lines: Vec<(u32, IngestErrorKind)> =
        batch.errors().iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        lines,
        [
            (1, IngestErrorKind::BadTimestamp),
            (2, IngestErrorKind::WrongType),
            (3, IngestErrorKind::DuplicateKey)
        ]
    );
}

#[test]
fn parser_internals_are_not_the_message() {
    let (batch, _) = decode("{\"a\": NaN}\n{\"a\": 1}\u{feff}{\"b\": 2}\n");
    assert_eq!(batch.len(), 0);
    for error in batch.errors() {
        assert!(
            !error.message.contains("InternalError"),
            "{}",
            error.message
        );
    }
}
