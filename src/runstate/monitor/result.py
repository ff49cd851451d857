"""The result of checking a run against a release: :class:`CheckItem` s in a :class:`CheckResult`.

``CheckResult.to_dict()`` is the ``runstate.check/v1`` document
(``docs/schemas/check.schema.json``, described in ``docs/checks.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CHECK_SCHEMA", "STATUSES", "CheckItem", "CheckResult"]

CHECK_SCHEMA = "runstate.check/v1"
#: worst first: the order of the summary and of the lists
STATUSES = ("fail", "warn", "info", "skip", "pass")


@dataclass(frozen=True)
class CheckItem:
    """One check of one subject (a table, a column, a state component)."""

    kind: str  # schema | quality | drift | state
    check: str  # row_count, null_rate, mean_shift, dropped, packages, …
    subject: str  # "input customers", "input customers.age", "env"
    status: str  # one of STATUSES
    message: str
    component: str | None = None  # the diff component it concerns: data:customers, env, …
    table: str | None = None
    column: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "check": self.check,
            "subject": self.subject,
            "status": self.status,
            "message": self.message,
            "component": self.component,
            "table": self.table,
            "column": self.column,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckItem:
        return cls(
            str(data["kind"]),
            str(data["check"]),
            str(data["subject"]),
            str(data["status"]),
            str(data["message"]),
            data.get("component"),
            data.get("table"),
            data.get("column"),
            dict(data.get("details") or {}),
        )


@dataclass(frozen=True)
class CheckResult:
    """All checks of one run against one release; falsy when a check failed."""

    run: Mapping[str, Any]  # id, name, started_at
    release: Mapping[str, Any]  # ref, run_id, name
    settings: Mapping[str, Any]
    settings_source: str  # release | default | file
    items: tuple[CheckItem, ...]
    notes: tuple[str, ...] = ()
    tables: Mapping[str, Any] = field(default_factory=dict)  # plots data for the HTML
    #: the StateDiff of the release's run and this run (for links to it; not in to_dict)
    diff: Any = field(default=None, compare=False, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    @property
    def passed(self) -> bool:
        return not any(item.status == "fail" for item in self.items)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def ordered(self) -> list[CheckItem]:
        rank = {status: index for index, status in enumerate(STATUSES)}
        return sorted(self.items, key=lambda item: rank[item.status])

    def summary_text(self) -> str:
        c = self.counts
        verdict = "PASSED" if self.passed else "FAILED"
        return (
            f"{verdict}: {c['pass']} passed, {c['fail']} failed, {c['warn']} warnings, "
            f"{c['info']} info, {c['skip']} skipped"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CHECK_SCHEMA,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "run": dict(self.run),
            "release": dict(self.release),
            "summary": {**self.counts, "total": len(self.items), "text": self.summary_text()},
            "settings_source": self.settings_source,
            "settings": dict(self.settings),
            "checks": [item.to_dict() for item in self.ordered()],
            "notes": list(self.notes),
            "tables": dict(self.tables),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            dict(data["run"]),
            dict(data["release"]),
            dict(data["settings"]),
            str(data["settings_source"]),
            tuple(CheckItem.from_dict(item) for item in data["checks"]),
            tuple(data.get("notes", [])),
            dict(data.get("tables", {})),
        )
