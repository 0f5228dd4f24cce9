;; Self-test of pluginop-spec: the module passes; the call never returns and --timeout
;; stops the file (the per-call deadline, 20 s, is longer than the test's --timeout 2).
(module (func (export "spin") (loop $l br $l)))
(assert_return (invoke "spin"))
