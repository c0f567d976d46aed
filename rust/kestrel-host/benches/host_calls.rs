//! Per-call cost of Host API v1, measured from Rust without Python.
//!
//! `cargo bench -p kestrel-host --bench host_calls [-- --json]`
//!
//! Each figure is the median over 15 runs of a loop over a 4,096-event batch,
//! divided by the calls made: what one host call costs once the batch is
//! warm in cache. Targets (issue: foundation): a field read at most 10 ns, a
//! case-insensitive compare of short strings at most 50 ns.

use std::hint::black_box;
use std::time::Instant;

use kestrel_event::{DecodeOptions, Decoder, EventBatch, SourceInfo};
use kestrel_host::{ops, GlobSet, Literal, StrSet};

const EVENTS: usize = 4096;
const RUNS: usize = 15;

fn batch() -> (EventBatch, u32, u32) {
    let mut ndjson = String::new();
    for i in 0..EVENTS {
        let name = ["cmd.exe", "CMD.EXE", "svchost.exe", "powershell.exe"][i % 4];
        ndjson.push_str(&format!(
            r#"{{"process":{{"pid":{},"name":"{}","command_line":"C:\\Windows\\System32\\{} /c whoami -enc {}"}}}}"#,
            i * 7,
            name,
            name,
            i
        ));
        ndjson.push('\n');
    }
    let schema = kestrel_schema::ecs_default();
    let b = Decoder::new(schema.clone(), DecodeOptions::default())
        .decode(ndjson.as_bytes(), &SourceInfo::default());
    (
        b,
        schema.lookup("process.pid").unwrap().id,
        schema.lookup("process.name").unwrap().id,
    )
}

/// Median nanoseconds per call of `f` applied to every event.
fn measure(b: &EventBatch, mut f: impl FnMut(usize) -> i64) -> f64 {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut acc = 0i64;
        for ev in 0..b.len() {
            acc = acc.wrapping_add(f(black_box(ev)));
        }
        black_box(acc);
        samples.push(t.elapsed().as_nanos() as f64 / b.len() as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let (b, pid, name) = batch();
    let cmd = Literal::new("cmd.exe");
    let globs = GlobSet::new(&["*-enc*", "*frombase64*", "*\\cmd.exe"], true);
    let set = StrSet::new(["cmd.exe", "powershell.exe", "pwsh.exe"], true);
    let cmdline = kestrel_schema::ecs_default()
        .lookup("process.command_line")
        .unwrap()
        .id;
    let results = [
        (
            "event_get_i64",
            measure(&b, |ev| ops::event_get_i64(&b, ev, pid).unwrap_or(0)),
        ),
        (
            "event_is_null",
            measure(&b, |ev| ops::event_is_null(&b, ev, pid) as i64),
        ),
        (
            "event_get_str",
            measure(&b, |ev| {
                ops::event_get_str(&b, ev, name).map_or(0, str::len) as i64
            }),
        ),
        (
            "str_eq (case-sensitive)",
            measure(&b, |ev| ops::str_eq(&b, ev, name, &cmd, false) as i64),
        ),
        (
            "str_eq (case-insensitive)",
            measure(&b, |ev| ops::str_eq(&b, ev, name, &cmd, true) as i64),
        ),
        (
            "str_ends_with (case-insensitive)",
            measure(&b, |ev| ops::str_ends_with(&b, ev, name, &cmd, true) as i64),
        ),
        (
            "set_contains (case-insensitive)",
            measure(&b, |ev| ops::set_contains(&b, ev, name, &set) as i64),
        ),
        (
            "glob_match_field (3 patterns, ci)",
            measure(&b, |ev| {
                ops::glob_match_field(&b, ev, cmdline, &globs) as i64
            }),
        ),
    ];
    if json {
        let body: Vec<String> = results
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v:.2}"))
            .collect();
        println!("{{{}}}", body.join(", "));
    } else {
        for (k, v) in results {
            println!("{k:36} {v:7.2} ns/call");
        }
    }
}
