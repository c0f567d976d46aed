#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kestrel_fuzz::restore_snapshot(data));
