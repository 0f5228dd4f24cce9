;; Fixture for the pluginop-vm tests: a loop that never ends (fuel and deadline stop it).
(module
  (func (export "spin") (loop $l br $l)))
