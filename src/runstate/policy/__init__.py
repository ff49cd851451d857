"""Access policies: parse, decide, enforce on read, record the effect, version and diff.

Layer: above ``data/`` (it fingerprints rows), below ``capture/`` (which calls it); it
never imports capture, compare or cli. Modules: :mod:`.document` (the YAML format),
:mod:`.rules` (which rule, who may read), :mod:`.enforce` (row filter and column rules on
Arrow tables), :mod:`.effect` (the recorded ``policy`` component), :mod:`.context` (the
policy of one run), :mod:`.versions` (store-managed, hash-chained versions),
:mod:`.diff` (rule-level diffs) and :mod:`.preview` (``policy test``: a dry run on a
recorded run). See docs/policy.md. Nothing heavy is imported here.
"""

from __future__ import annotations

import os

__all__ = ["may_apply"]


def may_apply(
    store_root: str | os.PathLike[str],
    principal: str | None = None,
    purpose: str | None = None,
) -> bool:
    """Whether a run could have a policy component at all (cheap: a few ``stat`` calls), so
    runs of projects without policies never import the policy machinery."""
    if principal or purpose:
        return True
    if os.environ.get("RUNSTATE_PRINCIPAL") or os.environ.get("RUNSTATE_PURPOSE"):
        return True
    root = os.fspath(store_root)
    return os.path.exists(os.path.join(os.path.dirname(root), "runstate-policy.yaml")) or (
        os.path.exists(os.path.join(root, "policy", "HEAD.json"))
    )
