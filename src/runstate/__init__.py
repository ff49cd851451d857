"""runstate: capture, compare and reproduce the execution state of every ML/AI run.

    import runstate

    with runstate.run("score-daily", params={"threshold": 0.5}, seed=7) as run:
        run.input("customers", "data/customers.csv")
        ...
        run.metric("approval_rate", 0.42)

``import runstate`` is kept light: the capture machinery, the database layer and every
optional library are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runstate.errors import RunstateError

__version__ = "0.1.0"
__all__ = ["Run", "RunstateError", "StateDiff", "__version__", "diff", "run"]

if TYPE_CHECKING:
    from runstate.capture.run import Run, run
    from runstate.compare.api import StateDiff, diff


def __getattr__(name: str) -> Any:
    if name in ("run", "Run"):
        from runstate.capture import run as module

        return getattr(module, name)
    if name in ("diff", "StateDiff"):
        from runstate.compare import api

        return getattr(api, name)
    raise AttributeError(f"module 'runstate' has no attribute {name!r}")
