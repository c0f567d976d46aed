//! The fuzz targets' bodies: each takes arbitrary bytes and checks that the
//! reader under test either accepts them or refuses them with an error, and
//! never panics, loops or allocates without bound. `fuzz/` runs them under
//! libFuzzer (nightly, `scripts/fuzz.sh`); `tests/replay.rs` runs every
//! recorded input through them on stable, so a crash once found stays fixed.

use std::sync::OnceLock;

use kestrel_event::{DecodeOptions, Decoder, SourceInfo};
use kestrel_ir::Program;
use kestrel_schema::Schema;
use kestrel_seq::{Config, SequenceMatcher, StateBudget};

/// The sequence rule whose snapshots the snapshot target reads.
const SEQUENCE_IR: &str = include_str!("../data/sequence.ir.json");

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(kestrel_schema::ecs_default)
}

/// NDJSON in: every non-blank line ends as an event or as a dropped line
/// with an error record, and nothing else.
pub fn decode_ndjson(data: &[u8]) {
    let options = DecodeOptions::default();
    let batch = Decoder::new(schema().clone(), options).decode(data, &SourceInfo::default());
    let accounted = batch.len() as u64 + batch.dropped() as u64;
    assert_eq!(
        accounted,
        batch.lines_read(),
        "{} events and {} dropped lines from {} lines",
        batch.len(),
        batch.dropped(),
        batch.lines_read()
    );
}

/// IR documents in: a program loads and validates, or the loader says why.
pub fn load_ir(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Program::from_json(text, schema());
    }
}

/// Sequence snapshots in: restored whole, or refused without changing the matcher.
pub fn restore_snapshot(data: &[u8]) {
    restores(data);
}

/// Whether `data` restores into a matcher of the bundled sequence rule.
pub fn restores(data: &[u8]) -> bool {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    let program = PROGRAM.get_or_init(|| {
        Program::from_json(SEQUENCE_IR, schema()).expect("the bundled sequence IR loads")
    });
    let mut matcher = SequenceMatcher::new(program, Config::default(), StateBudget::default())
        .expect("the bundled sequence IR is a sequence");
    let restored = matcher.restore(data).is_ok();
    if !restored {
        assert_eq!(
            matcher.partials(),
            0,
            "a refused snapshot changed the matcher"
        );
    }
    restored
}
