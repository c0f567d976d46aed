//! The sequence matcher from Rust: completion by join key, `maxspan`,
//! `until`, missing events, snapshots, and budgets that stay totals across
//! the matchers of one rule.
//!
//! Which events pass which filter is given by hand (the predicates are the
//! Wasm runtime's business); the rules' IR is in `tests/data/`.

use kestrel_event::{DecodeOptions, Decoder, EventBatch, SourceInfo};
use kestrel_ir::Program;
use kestrel_schema::Schema;
use kestrel_seq::{Config, SequenceMatcher, StateBudget};

fn schema() -> Schema {
    kestrel_schema::ecs_default()
}

fn program(name: &str, schema: &Schema) -> Program {
    let path = format!("{}/tests/data/{name}.ir.json", env!("CARGO_MANIFEST_DIR"));
    Program::from_json(&std::fs::read_to_string(path).unwrap(), schema).unwrap()
}

/// Events as (seconds, host, process name).
fn batch(schema: &Schema, events: &[(u32, &str, &str)]) -> EventBatch {
    padded_batch(schema, events, 0)
}

/// [`batch`], each event carrying a message of `pad` bytes.
fn padded_batch(schema: &Schema, events: &[(u32, &str, &str)], pad: usize) -> EventBatch {
    let message = "m".repeat(pad);
    let lines: String = events
        .iter()
        .map(|(s, host, name)| {
            format!(
                "{{\"@timestamp\":\"2026-01-01T00:{:02}:{:02}Z\",\"event\":{{\"category\":[\"process\"]}},\
                 \"host\":{{\"id\":\"{host}\"}},\"process\":{{\"name\":\"{name}\"}},\"message\":\"{message}\"}}\n",
                s / 60,
                s % 60
            )
        })
        .collect();
    Decoder::new(schema.clone(), DecodeOptions::default())
        .decode(lines.as_bytes(), &SourceInfo::default())
}

/// Per filter, the events whose process name is that filter's.
fn passing(batch_events: &[(u32, &str, &str)], names: &[&str]) -> Vec<Vec<u32>> {
    names
        .iter()
        .map(|want| {
            batch_events
                .iter()
                .enumerate()
                .filter(|(_, (_, _, name))| name == want)
                .map(|(i, _)| i as u32)
                .collect()
        })
        .collect()
}

fn run(
    matcher: &mut SequenceMatcher,
    schema: &Schema,
    events: &[(u32, &str, &str)],
    names: &[&str],
) -> usize {
    let lists = passing(events, names);
    let slices: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
    matcher
        .process(&batch(schema, events), &slices)
        .unwrap()
        .len()
}

const UNTIL: [&str; 3] = ["a", "b", "stop"];
const MISSING: [&str; 3] = ["a", "x", "b"];

fn matcher(name: &str, schema: &Schema, config: Config) -> SequenceMatcher {
    SequenceMatcher::new(&program(name, schema), config, StateBudget::default()).unwrap()
}

#[test]
fn a_sequence_completes_per_join_key() {
    let schema = schema();
    let mut m = matcher("until", &schema, Config::default());
    let events = [(0, "h1", "a"), (1, "h2", "b"), (2, "h1", "b")];
    assert_eq!(run(&mut m, &schema, &events, &UNTIL), 1);
    assert_eq!(m.partials(), 0);
}

#[test]
fn maxspan_and_until_end_a_partial_match() {
    let schema = schema();
    let mut m = matcher("until", &schema, Config::default());
    assert_eq!(
        run(&mut m, &schema, &[(0, "h1", "a"), (120, "h1", "b")], &UNTIL),
        0
    );
    let mut m = matcher("until", &schema, Config::default());
    let events = [(0, "h1", "a"), (1, "h1", "stop"), (2, "h1", "b")];
    assert_eq!(run(&mut m, &schema, &events, &UNTIL), 0);
    assert_eq!(m.stats().evictions.until, 1);
}

#[test]
fn a_missing_event_between_steps_blocks_the_match() {
    let schema = schema();
    let mut m = matcher("missing", &schema, Config::default());
    let events = [
        (0, "h1", "a"),
        (1, "h1", "x"),
        (2, "h1", "b"),
        (3, "h2", "a"),
        (4, "h2", "b"),
    ];
    assert_eq!(run(&mut m, &schema, &events, &MISSING), 1);
}

#[test]
fn a_restored_matcher_completes_what_the_snapshot_held() {
    let schema = schema();
    let mut m = matcher("until", &schema, Config::default());
    assert_eq!(run(&mut m, &schema, &[(0, "h1", "a")], &UNTIL), 0);
    let snapshot = m.snapshot();
    let mut restored = matcher("until", &schema, Config::default());
    restored.restore(&snapshot).unwrap();
    assert_eq!(restored.partials(), 1);
    assert_eq!(run(&mut restored, &schema, &[(5, "h1", "b")], &UNTIL), 1);
    // A damaged snapshot is refused whole.
    let mut damaged = snapshot.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    let mut fresh = matcher("until", &schema, Config::default());
    assert!(fresh.restore(&damaged).is_err());
    assert_eq!(fresh.partials(), 0);
}

#[test]
fn partitions_of_a_rule_share_its_quota_and_give_their_share_back() {
    let schema = schema();
    let config = Config {
        quota_rule: Some(3),
        memory_budget: Some(1 << 20),
        ..Config::default()
    };
    let mut first = matcher("until", &schema, config);
    let mut second = first.empty_like();
    let starts = |hosts: &[&'static str]| -> Vec<(u32, &'static str, &'static str)> {
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (i as u32, *h, "a"))
            .collect()
    };
    run(&mut first, &schema, &starts(&["h1", "h2"]), &UNTIL);
    run(&mut second, &schema, &starts(&["h3", "h4"]), &UNTIL);
    // Three in all, not three per partition.
    assert_eq!(first.partials() + second.partials(), 3);
    let budget = first.budget().clone();
    assert!(budget.used() > 0);
    drop(second);
    drop(first);
    assert_eq!(
        budget.used(),
        0,
        "dropped matchers still counted on the budget"
    );
}

#[test]
fn long_lived_partials_do_not_keep_their_batches_alive() {
    let schema = schema();
    let mut m = matcher("until", &schema, Config::default());
    // Ten batches of about 1.2 MB, each starting one partial match that
    // stays pending (every event at the same second, inside maxspan).
    let mut batch_bytes = 0;
    let mut first_line = Vec::new();
    for i in 0..10 {
        let host = format!("h{i}");
        let mut events = vec![(0, host.as_str(), "a")];
        events.extend(std::iter::repeat_n((0, "idle", "pad"), 999));
        let batch = padded_batch(&schema, &events, 1200);
        batch_bytes = batch.raw_shared().len();
        if i == 0 {
            first_line = batch.raw(0).to_vec();
        }
        let lists = passing(&events, &UNTIL);
        let slices: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
        assert!(m.process(&batch, &slices).unwrap().is_empty());
    }
    assert_eq!(m.partials(), 10);
    let pinned = m.pinned_evidence_bytes();
    assert!(
        pinned < 2 * batch_bytes,
        "{pinned} bytes of buffers held for 10 partials (a batch is {batch_bytes})"
    );
    // The evidence copied out of its batch still completes, byte for byte.
    let events = [(1, "h0", "b")];
    let lists = passing(&events, &UNTIL);
    let slices: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
    let found = m.process(&batch(&schema, &events), &slices).unwrap();
    assert_eq!(found.len(), 1);
    let evidence = found[0].events[0].as_ref().and_then(|e| e.raw.as_ref());
    assert_eq!(evidence.map(|r| r.bytes()), Some(&first_line[..]));
}
