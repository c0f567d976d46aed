"""Hand-written Wasm modules that report what they were not asked about.

Every result a module hands back is checked by the core; each of these
must fail only its own rule, with "rule returned a bad result".
"""

#: pred_eval_list reports an event it was not offered.
LIST_OUT_OF_RANGE = """
(module
  (memory (export "memory") 1)
  (func (export "pred_eval") (param $ev i32) (result i32) (i32.const 0))
  (func (export "pred_eval_list") (param $f i32) (param $in i32) (param $n i32) (param $out i32) (result i32)
    (i32.store (local.get $out) (i32.const 1000000))
    (i32.const 1)))
"""

#: match_emit names an event outside the batch.
EMIT_OUT_OF_RANGE = """
(module
  (import "kestrel" "match_emit" (func $emit (param i32 i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (call $emit (i32.const 0) (i32.const 99999))
    (i32.const 0)))
"""

#: alert_emit a million times per event.
EMIT_FLOOD = """
(module
  (import "kestrel" "alert_emit" (func $emit (param i32) (result i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (local $i i32)
    (loop $again
      (drop (call $emit (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))
    (i32.const 0)))
"""

LYING_MODULES = {"list-out-of-range": LIST_OUT_OF_RANGE, "emit-out-of-range": EMIT_OUT_OF_RANGE, "emit-flood": EMIT_FLOOD}
