"""Checks of a run against a release: schema, quality, drift and state (``runstate check``).

:func:`runstate.monitor.engine.check_run` is the entry point; docs/checks.md describes the
checks, their settings (:mod:`.settings`) and the statistics (:mod:`.drift`, :mod:`.fdr`).
Modules: :mod:`.result` (value objects), :mod:`.quality` (schema and quality checks from
profiles and samples), :mod:`.drift` (effect sizes, intervals, p-values), :mod:`.fdr`
(Benjamini–Hochberg and the flagging rule), :mod:`.statecheck` (code, packages, Python,
policy, seeds, config). scipy is imported only
when a drift test runs.
"""
