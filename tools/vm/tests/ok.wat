;; Fixture for the pluginop-vm tests: a module that runs fine.
(module
  (memory (export "memory") 1 2)
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "add64") (param i64 i64) (result i64)
    local.get 0 local.get 1 i64.add)
  (func (export "mulf") (param f64 f64) (result f64)
    local.get 0 local.get 1 f64.mul)
  (func (export "swap") (param i32 i32) (result i32 i32)
    local.get 1 local.get 0))
