;; Self-test of pluginop-spec: 3 commands below must fail, 1 is skipped, the rest pass.
(module $M
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "nan") (result f32) f32.const nan)
  (global (export "g") i32 (i32.const 7)))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4)) ;; fails
(assert_return (invoke "nan") (f32.const nan:canonical))
(assert_return (get "g") (i32.const 7))
(assert_trap (invoke "add" (i32.const 1) (i32.const 2)) "unreachable") ;; fails
(assert_invalid (module (func)) "type mismatch") ;; fails: the module is valid
(assert_malformed (module quote "(func") "unexpected end") ;; skipped: text format
(register "M" $M)
(module (import "M" "add" (func $add (param i32 i32) (result i32)))
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global i32))
  (func (export "twice") (param i32) (result i32)
    local.get 0 call $print local.get 0 local.get 0 call $add))
(assert_return (invoke "twice" (i32.const 21)) (i32.const 42))
(assert_trap (module (func $f unreachable) (start $f)) "unreachable")
