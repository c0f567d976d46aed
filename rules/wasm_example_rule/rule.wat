;; The seed guide's Wasm predicate, as written there: a process whose PID
;; (field 1 in this package's field table) is above 1000. It needs no
;; memory and no constants; everything comes through Host API v1.
(module
  (import "kestrel" "event_get_i64" (func $event_get_i64 (param i32 i32) (result i64)))

  (func (export "pred_init") (result i32)
    (i32.const 0))

  (func (export "pred_eval") (param $event_handle i32) (result i32)
    (call $event_get_i64 (local.get $event_handle) (i32.const 1))
    (i64.const 1000)
    (i64.gt_u)
    (if (result i32)
      (then (i32.const 1))
      (else (i32.const 0)))))
