//! Decode an NDJSON file repeatedly and print the rate: a profiling target
//! for the decoder without Python in the picture.
//!
//! `cargo run --release -p kestrel-event --example decode_file -- FILE [ROUNDS]`

use std::time::Instant;

use kestrel_event::{DecodeOptions, Decoder, SourceInfo};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: decode_file FILE [ROUNDS]");
    let rounds: usize = args
        .next()
        .map_or(10, |r| r.parse().expect("ROUNDS is a number"));
    let data = std::fs::read(&path).expect("readable file");
    let schema = kestrel_schema::ecs_default();
    let mut decoder = Decoder::new(schema, DecodeOptions::default());
    let source = SourceInfo {
        name: path.clone(),
        first_line: 1,
        first_seq: 0,
    };
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let batch = decoder.decode(&data, &source);
        best = best.min(t.elapsed().as_secs_f64());
        events = batch.len();
    }
    println!(
        "{events} events, {:.1} MB: best {:.1} ms = {:.0} MB/s, {:.0} events/s",
        data.len() as f64 / 1e6,
        best * 1e3,
        data.len() as f64 / best / 1e6,
        events as f64 / best
    );
}
