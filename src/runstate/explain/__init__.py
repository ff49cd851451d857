"""Explain: attribute an output change between two runs to the state changes that caused it.

``runstate explain A B`` / :func:`explain` lists the *factors* that differ between A and B
(:mod:`.factors`: each input, the policy, each changed code file, each changed param,
seeds, packages), replays *hybrid* states — A with some of B's factors switched in
(:mod:`.hybrid`, cached by hybrid state id so no hybrid is run twice) — measures how far
each hybrid's outputs are from B's (:mod:`.distance`), searches single switches, ddmin and
Shapley values within a replay budget (:mod:`.search`), attributes the change per output
row (:mod:`.attribution`) and writes a ``runstate.explain/v1`` document (:mod:`.report`).

    >>> doc = explain(Store.open(), "scoring@v1", "latest")     # doctest: +SKIP
    >>> doc["causes"][0]["statement"]                            # doctest: +SKIP
"""

from __future__ import annotations

from runstate.explain.api import ExplainOptions, explain
from runstate.explain.report import EXPLAIN_SCHEMA

__all__ = ["EXPLAIN_SCHEMA", "ExplainOptions", "explain"]
