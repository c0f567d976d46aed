//! Every input recorded for the fuzz targets, replayed on stable: the seed
//! corpus in `fuzz/corpus/<target>/` and the crashes found so far in
//! `fuzz/regressions/<target>/`.

use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory").path();
            let data = std::fs::read(&path).expect("a readable input");
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no recorded inputs for {target}");
}

#[test]
fn decode_ndjson_inputs() {
    replay("decode_ndjson", kestrel_fuzz::decode_ndjson);
}

#[test]
fn load_ir_inputs() {
    replay("load_ir", kestrel_fuzz::load_ir);
}

#[test]
fn restore_snapshot_inputs() {
    replay("restore_snapshot", kestrel_fuzz::restore_snapshot);
}

#[test]
fn the_seed_snapshots_restore() {
    // Otherwise the fuzzer would start from inputs that fail at the header.
    let seeds =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/restore_snapshot");
    for name in ["empty", "pending"] {
        let data = std::fs::read(seeds.join(name)).expect("a seed snapshot");
        assert!(kestrel_fuzz::restores(&data), "{name} does not restore");
    }
}
