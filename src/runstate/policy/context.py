"""The policy in force for one run: where it comes from, each read's decision, the effect.

Source, first found: the project's ``runstate-policy.yaml`` (next to ``.runstate/``), else
the store's current applied version (``runstate policy apply``), else none. With no policy,
every read is allowed as is; a run that names a principal or purpose still records a
``policy`` component saying ``"source": "none"``, and a run that names neither records none.

Both capture paths use one :class:`ActivePolicy`:

* ``run.read_table`` (and ``run.input`` for data files): :meth:`ActivePolicy.before_read`
  decides before the source is opened (a refusal raises :class:`AccessDenied`),
  :meth:`ActivePolicy.read` checks the filter and mask key against the source's schema
  before reading a row, then filters and masks, so user code only sees what the policy
  lets through (``enforced: read``);
* zero-code captures (``runstate run`` sees the command open a table file): the command
  has read the file itself, so runstate cannot filter what it saw. It refuses to record
  what the policy withholds: a denied file is recorded by fingerprint only and fails the
  run (exit 2); an allowed one is filtered and masked before it is snapshotted and profiled
  (``enforced: record``). :meth:`ActivePolicy.precheck` refuses, before the command starts,
  a principal that no rule admits under ``default: deny`` and a missing mask key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runstate.errors import AccessDenied, PolicyError
from runstate.policy.document import PolicyDocument, load_policy_file
from runstate.policy.effect import DatasetEffect, PolicyEffect, PolicyRef
from runstate.policy.rules import Decision, Identity, decide, reachable_rules
from runstate.state.canonical import canonical_bytes

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.store.store import Store

__all__ = ["POLICY_FILE", "ActivePolicy", "load_active_document", "resolve_policy"]

POLICY_FILE = "runstate-policy.yaml"


def load_active_document(store: Store) -> tuple[PolicyDocument | None, PolicyRef]:
    """The policy document in force for ``store``'s project and its reference."""
    path = os.path.join(store.project_root, POLICY_FILE)
    if os.path.isfile(path):
        document = load_policy_file(path)
        document_id = store.objects.put_bytes(canonical_bytes(document.to_dict()))
        ref = PolicyRef("file", None, None, document_id, POLICY_FILE, document.default)
        return document, ref
    from runstate.policy.versions import _load, head

    current = head(store)
    if current is None:
        return None, PolicyRef("none")
    version = _load(store, current[1])
    ref = PolicyRef(
        "store", version.version, version.id, version.document_id, None, version.document.default
    )
    return version.document, ref


class ActivePolicy:
    """The policy of one run, and the effect it has had so far."""

    def __init__(
        self, store: Store, document: PolicyDocument | None, ref: PolicyRef, identity: Identity
    ) -> None:
        self.store = store
        self.document = document
        self.ref = ref
        self.identity = identity
        self.datasets: dict[str, DatasetEffect] = {}
        self.problems: list[str] = []
        # Inside a replay: datasets whose recorded effect stands (their inputs are served
        # from the recorded post-policy snapshots, so nothing is filtered or masked twice).
        self.served: frozenset[str] = frozenset()

    @classmethod
    def from_recorded(cls, store: Store, body: Mapping[str, Any]) -> ActivePolicy:
        """The policy a recorded run read under (its ``policy`` component body), for a replay
        of that run: the recorded document (by ``document_id``; the store's current policy
        is not consulted), principal and purpose, and the recorded effect per dataset. A
        replay that reads only served inputs records the same component as the original."""
        import json

        effect = PolicyEffect.from_dict(body)
        document = None
        if effect.policy.document_id is not None:
            document = PolicyDocument.from_dict(
                json.loads(store.objects.get_bytes(effect.policy.document_id))
            )
        identity = Identity(effect.principal, effect.purpose, tuple(effect.groups))
        policy = cls(store, document, effect.policy, identity)
        policy.datasets = dict(effect.datasets)
        policy.served = frozenset(effect.datasets)
        return policy

    # -- before anything is read ---------------------------------------------------------

    def precheck(self) -> None:
        """Refuse a run that cannot read anything, or lacks the mask key a rule needs."""
        if self.document is None:
            return
        reachable = reachable_rules(self.document, self.identity)
        if self.document.default == "deny" and not reachable:
            groups = self.identity.groups(self.document)
            member = f" (groups: {', '.join(groups)})" if groups else ""
            raise AccessDenied(
                f"access denied: principal {self.identity.principal or '(none)'}{member} with "
                f"purpose {self.identity.purpose or '(none)'} matches no reader of any rule, "
                f"and {self.ref.label}'s default is deny (set --principal/--purpose or "
                f"RUNSTATE_PRINCIPAL/RUNSTATE_PURPOSE)"
            )
        if any("hash" in rule.columns.values() for rule in reachable):
            from runstate.policy.enforce import mask_key

            hashing = sorted(r.pattern for r in reachable if "hash" in r.columns.values())
            mask_key(f"{self.ref.label}, rule {hashing[0]!r}")

    def decide(self, dataset: str) -> Decision:
        if self.document is None:
            return Decision(dataset, True, None, None, "no policy")
        return decide(self.document, dataset, self.identity)

    def _denied(self, decision: Decision, mode: str) -> AccessDenied:
        self.datasets[decision.dataset] = DatasetEffect.denied(decision, mode)
        return AccessDenied(
            f"access denied: dataset {decision.dataset!r}: {decision.reason} ({self.ref.label})"
        )

    def before_read(self, dataset: str, *, opaque: bool = False) -> Decision:
        """Decide ``dataset`` before its source is opened; raise if refused. ``opaque``: a
        file the policy cannot filter or mask (``run.input``)."""
        decision = self.decide(dataset)
        if not decision.allowed:
            raise self._denied(decision, "read")
        if opaque and decision.transforms:
            self.datasets[dataset] = DatasetEffect.denied(decision)
            raise AccessDenied(
                f"access denied: dataset {dataset!r}: {decision.by} filters or masks it, which "
                f"needs run.read_table (run.input records files as they are) ({self.ref.label})"
            )
        if opaque:
            self.datasets[dataset] = DatasetEffect.of(self.store.objects, decision, None)
        return decision

    # -- reading -------------------------------------------------------------------------

    def read(
        self, decision: Decision, reader: Any, key: str | Sequence[str] | None
    ) -> tuple[pa.Table, list[str] | None]:
        """Check, read and enforce; returns the table user code may see and its key."""
        keys = [key] if isinstance(key, str) else (None if key is None else list(key))
        if not decision.transforms:
            table = reader.read_all()
            self.datasets[decision.dataset] = DatasetEffect.of(self.store.objects, decision, None)
            return table, keys
        from runstate.policy.enforce import check_decision

        missing = check_decision(decision, reader.schema)
        return self.enforce(decision, reader.read_all(), keys, missing, "read")

    def enforce(
        self,
        decision: Decision,
        table: pa.Table,
        keys: list[str] | None,
        missing: list[str] | None = None,
        mode: str = "read",
    ) -> tuple[pa.Table, list[str] | None]:
        from runstate.policy.enforce import apply_decision

        enforced = apply_decision(decision, table, keys, missing=missing)
        self.datasets[decision.dataset] = DatasetEffect.of(
            self.store.objects, decision, enforced, mode
        )
        surviving = None if keys is None else [k for k in keys if k in enforced.table.column_names]
        return enforced.table, surviving or None

    # -- zero-code captures --------------------------------------------------------------

    def record_table(self, dataset: str, table_reader: Any) -> tuple[Decision, pa.Table | None]:
        """A table file the command read itself: the table to record (None: record it by
        fingerprint only, the policy withholds it)."""
        decision = self.decide(dataset)
        if dataset in self.served:  # a replay's served input: already what the policy let by
            return decision, table_reader.read_all()
        if not decision.allowed:
            self.datasets[dataset] = DatasetEffect.denied(decision, "record")
            self.problems.append(
                f"access denied: dataset {dataset!r}: {decision.reason} ({self.ref.label}); "
                f"the command read it directly, so it was recorded by fingerprint only"
            )
            return decision, None
        if not decision.transforms:
            self.datasets[dataset] = DatasetEffect.of(self.store.objects, decision, None, "record")
            return decision, table_reader.read_all()
        try:
            from runstate.policy.enforce import check_decision

            missing = check_decision(decision, table_reader.schema)
            table, _ = self.enforce(decision, table_reader.read_all(), None, missing, "record")
        except PolicyError as exc:
            self.datasets[dataset] = DatasetEffect.denied(decision, "record")
            self.problems.append(f"{exc}; dataset {dataset!r} was recorded by fingerprint only")
            return decision, None
        return decision, table

    def merge(self, effect: Mapping[str, Any] | None) -> None:
        """Fold in the effect a ``runstate.run`` block inside the command recorded."""
        if not effect:
            return
        for name, dataset in PolicyEffect.from_dict(effect).datasets.items():
            self.datasets[name] = dataset
            if dataset.decision == "deny" and dataset.enforced == "read":
                self.problems.append(f"access denied: dataset {name!r} ({self.ref.label})")

    # -- the record ----------------------------------------------------------------------

    def effect(self) -> PolicyEffect:
        groups = [] if self.document is None else list(self.identity.groups(self.document))
        return PolicyEffect(
            self.ref, self.identity.principal, self.identity.purpose, groups, dict(self.datasets)
        )

    def component_body(self) -> dict[str, Any]:
        return self.effect().to_dict()


def resolve_policy(
    store: Store,
    principal: str | None = None,
    purpose: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ActivePolicy | None:
    """The run's policy (None: no policy and no principal or purpose to record)."""
    identity = Identity.from_env(principal, purpose, environ)
    document, ref = load_active_document(store)
    if document is None and identity.principal is None and identity.purpose is None:
        return None
    return ActivePolicy(store, document, ref, identity)
