(module
  (import "kestrel" "category_is" (func $category_is (param i32) (param i32) (result i32)))
  (import "kestrel" "str_eq"
    (func $str_eq (param i32) (param i32) (param i32) (param i32) (result i32)))
  (import "kestrel" "glob_match_field"
    (func $glob_match_field (param i32) (param i32) (param i32) (result i32)))
  (import "kestrel" "eval_node" (func $eval_node (param i32) (param i32) (result i32)))
  (import "kestrel" "capture_field" (func $capture_field (param i32) (param i32)))
  (import "kestrel" "match_emit" (func $match_emit (param i32) (param i32)))
  (memory (export "memory") 1)
  (func $f0 (param $ev i32) (result i32)
    (block $b1 (result i32)
      (if
        (i32.eqz
          (i32.eq
            (call $str_eq (local.get $ev) (i32.const 1) (i32.const 1) (i32.const 1))
            (i32.const 0)))
        (then (br $b1 (i32.const 0))))
      (if
        (i32.eqz
          (block $b2 (result i32)
            (if
              (i32.eq
                (call $str_eq (local.get $ev) (i32.const 3) (i32.const 0) (i32.const 1))
                (i32.const 1))
              (then (br $b2 (i32.const 1))))
            (if
              (i32.eq
                (call $glob_match_field (local.get $ev) (i32.const 3) (i32.const 0))
                (i32.const 1))
              (then (br $b2 (i32.const 1))))
            (i32.const 0)))
        (then (br $b1 (i32.const 0))))
      (if
        (i32.eqz (i32.eq (call $eval_node (local.get $ev) (i32.const 12)) (i32.const 1)))
        (then (br $b1 (i32.const 0))))
      (i32.const 1)))
  (func $c0 (param $ev i32) (result i32)
    (if (result i32)
      (call $category_is (local.get $ev) (i32.const 2))
      (then (call $f0 (local.get $ev)))
      (else (i32.const 0))))
  (func (export "pred_init") (result i32) (i32.const 0))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (i32.eq (call $c0 (local.get $ev)) (i32.const 1)))
  (func (export "pred_eval_batch") (param $filter i32) (param $start i32) (param $end i32) (result i32) (local $ev i32) (local $n i32)
    (local.set $ev (local.get $start))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ev) (local.get $end)))
        (if
          (i32.eq
            (if (result i32)
              (i32.eq (local.get $filter) (i32.const 0))
              (then (call $c0 (local.get $ev)))
              (else (i32.const 0)))
            (i32.const 1))
          (then
            (call $match_emit (local.get $filter) (local.get $ev))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $ev (i32.add (local.get $ev) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "pred_eval_list") (param $filter i32) (param $in i32) (param $count i32) (param $out i32) (result i32) (local $i i32) (local $n i32) (local $ev i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $ev (i32.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))
        (if
          (i32.eq
            (if (result i32)
              (i32.eq (local.get $filter) (i32.const 0))
              (then (call $f0 (local.get $ev)))
              (else (i32.const 0)))
            (i32.const 1))
          (then
            (i32.store
              (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $ev))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "pred_eval_candidates") (param $filter i32) (param $in i32) (param $count i32) (param $out i32) (result i32) (local $i i32) (local $n i32) (local $ev i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $ev (i32.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))
        (if
          (i32.eq
            (if (result i32)
              (i32.eq (local.get $filter) (i32.const 0))
              (then (call $f0 (local.get $ev)))
              (else (i32.const 0)))
            (i32.const 1))
          (then
            (i32.store
              (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $ev))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "pred_capture") (param $ev i32)
    (call $capture_field (local.get $ev) (i32.const 1))
    (call $capture_field (local.get $ev) (i32.const 2))
    (call $capture_field (local.get $ev) (i32.const 3))))
