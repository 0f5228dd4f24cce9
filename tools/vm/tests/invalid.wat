;; Fixture for the pluginop-vm tests: well-formed but invalid (i32.add on an i64).
(module
  (func (export "f") (result i32)
    i64.const 1 i32.const 2 i32.add))
