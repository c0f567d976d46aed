//! The Wasm runtime from Rust: evaluation through Host API v1, the time
//! limit and quarantine, one time budget per batch, checked results, and
//! the AOT cache's refusal of entries that are not this module's.

use std::time::Instant;

use kestrel_event::{DecodeOptions, Decoder, EventBatch, SourceInfo};
use kestrel_host::{HostContext, RuleConstants};
use kestrel_schema::{FieldId, Schema};
use kestrel_wasm::{AotCache, CacheOutcome, RuleLimits, RuleSource, WasmError, WasmRule};

const PID_OVER_1000: &str = r#"
(module
  (import "kestrel" "cmp_i64" (func $cmp (param i32 i32 i32 i64) (result i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (i32.eq (call $cmp (local.get $ev) (i32.const 0) (i32.const 4) (i64.const 1000)) (i32.const 1))))
"#;

const SPIN: &str = r#"
(module
  (func (export "pred_eval") (param $ev i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
"#;

const SPIN_CAPTURE: &str = r#"
(module
  (func (export "pred_eval") (param $ev i32) (result i32) (i32.const 1))
  (func (export "pred_capture") (param $ev i32)
    (loop $forever (br $forever))))
"#;

const EMIT_OUTSIDE: &str = r#"
(module
  (import "kestrel" "match_emit" (func $emit (param i32 i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (call $emit (i32.const 0) (i32.const 99999))
    (i32.const 0)))
"#;

fn batch(pids: &[i64]) -> (EventBatch, Schema) {
    let schema = kestrel_schema::ecs_default();
    let lines: String = pids
        .iter()
        .map(|pid| {
            format!("{{\"event\":{{\"category\":[\"process\"]}},\"process\":{{\"pid\":{pid}}}}}\n")
        })
        .collect();
    let batch = Decoder::new(schema.clone(), DecodeOptions::default())
        .decode(lines.as_bytes(), &SourceInfo::default());
    (batch, schema)
}

fn load(
    wat: &str,
    schema: &Schema,
    limits: RuleLimits,
    cache: Option<&AotCache>,
) -> Result<WasmRule, WasmError> {
    let pid: FieldId = schema.resolve("process.pid").id;
    let source = RuleSource {
        module: wat.as_bytes(),
        ctx: HostContext::new(RuleConstants::default()),
        field_map: vec![pid],
        filter_categories: vec![None],
        field_paths: vec!["process.pid".into()],
    };
    WasmRule::load(source, limits, cache)
}

fn limits(time_limit_ms: u64, quarantine_after: u32) -> RuleLimits {
    RuleLimits {
        time_limit_ms,
        quarantine_after,
        ..RuleLimits::default()
    }
}

#[test]
fn a_predicate_reads_fields_through_the_host() {
    let (batch, schema) = batch(&[4242, 7, 1001]);
    let mut rule = load(PID_OVER_1000, &schema, RuleLimits::default(), None).unwrap();
    assert_eq!(rule.evaluate(&batch, 0).unwrap(), vec![0, 2]);
    assert_eq!(rule.health().matches, 2);
}

#[test]
fn a_spinning_rule_is_stopped_and_quarantined() {
    let (batch, schema) = batch(&[1]);
    let mut rule = load(SPIN, &schema, limits(50, 2), None).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            rule.evaluate(&batch, 0),
            Err(WasmError::Timeout(50))
        ));
    }
    assert!(rule.health().quarantined);
    assert!(matches!(
        rule.evaluate(&batch, 0),
        Err(WasmError::Quarantined { failures: 2, .. })
    ));
}

#[test]
fn captures_in_one_batch_share_one_time_limit() {
    let (batch, schema) = batch(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut instance = load(SPIN_CAPTURE, &schema, limits(100, 100), None).unwrap();
    let started = Instant::now();
    {
        let mut rule = instance.batch();
        let hits = rule.evaluate(&batch, 0).unwrap();
        assert_eq!(hits.len(), 8);
        let failed = hits
            .iter()
            .filter(|&&ev| rule.capture(&batch, ev).is_err())
            .count();
        assert_eq!(failed, 8);
    }
    // Per capture, eight captures would take eight limits.
    assert!(
        started.elapsed().as_millis() < 500,
        "{:?}",
        started.elapsed()
    );
    // Outside a batch scope each call has a limit of its own again.
    let started = Instant::now();
    assert!(matches!(
        instance.capture(&batch, 0),
        Err(WasmError::Timeout(100))
    ));
    assert!(started.elapsed().as_millis() >= 90);
}

#[test]
fn a_result_outside_the_batch_is_the_rules_own_error() {
    let (batch, schema) = batch(&[1, 2]);
    let mut rule = load(EMIT_OUTSIDE, &schema, limits(1000, 1), None).unwrap();
    assert!(matches!(
        rule.evaluate(&batch, 0),
        Err(WasmError::BadResult(_))
    ));
    assert!(rule.health().quarantined);
}

#[test]
fn the_aot_cache_serves_a_module_only_its_own_entry() {
    let dir = std::env::temp_dir().join(format!("kestrel-wasm-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = AotCache::new(dir.clone());
    let (batch, schema) = batch(&[4242, 7]);
    let first = load(PID_OVER_1000, &schema, RuleLimits::default(), Some(&cache)).unwrap();
    assert_eq!(first.load_report().cache, CacheOutcome::Stored);
    let second = load(PID_OVER_1000, &schema, RuleLimits::default(), Some(&cache)).unwrap();
    assert_eq!(second.load_report().cache, CacheOutcome::Hit);
    // Another module's entry copied over this one's name is refused.
    load(SPIN, &schema, RuleLimits::default(), Some(&cache)).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 2);
    std::fs::copy(&entries[1], &entries[0]).unwrap();
    let (mut a, mut b) = (
        load(PID_OVER_1000, &schema, RuleLimits::default(), Some(&cache)).unwrap(),
        load(SPIN, &schema, limits(20, 100), Some(&cache)).unwrap(),
    );
    // Whichever entry was overwritten, each module runs its own code.
    assert_eq!(a.evaluate(&batch, 0).unwrap(), vec![0]);
    assert!(matches!(b.evaluate(&batch, 0), Err(WasmError::Timeout(20))));
    assert!([a.load_report().cache, b.load_report().cache].contains(&CacheOutcome::Rebuilt));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
