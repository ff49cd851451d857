"""Typed diffs of runs: components, states, data, outputs, metrics and steps.

``diff_runs(store, a, b)`` (in :mod:`runstate.compare.state`) is the entry point; the
modules next to it each compare one dimension and return JSON-ready details that become
one entry of the ``runstate.diff/v1`` document (docs/diff.md).
"""
