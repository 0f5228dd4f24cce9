;; Fixture for the pluginop-vm tests: an import the tool cannot resolve.
(module
  (import "env" "missing" (func $m (param i32)))
  (func (export "f") i32.const 1 call $m))
