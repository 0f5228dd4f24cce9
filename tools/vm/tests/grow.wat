;; Fixture for the pluginop-vm tests: memory.grow under --max-pages.
(module
  (memory 1)
  (func (export "grow") (param i32) (result i32)
    local.get 0 memory.grow))
