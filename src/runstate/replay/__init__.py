"""Replay: re-create a recorded execution state in a sandbox, re-execute, grade the result.

``runstate replay RUN`` / :func:`replay` restores the run's code (:mod:`.code`), serves its
recorded inputs (:mod:`.data`, :mod:`runstate.capture.replayed`), its params and seeds
(:mod:`.manifest`), runs it in the current or an exact rebuilt environment (:mod:`.env`),
records the replay as a run whose parent is the original (:mod:`.execute`) and grades its
outputs against the original's (:mod:`.verdict`): identical, equivalent (within a relative
tolerance), diverged, failed or not replayable.

    >>> from runstate.replay import ReplayOptions, replay          # doctest: +SKIP
    >>> verdict = replay(Store.open(), "latest", ReplayOptions(tolerance=1e-9))
    >>> verdict.verdict, verdict.outputs
"""

from __future__ import annotations

from runstate.replay.manifest import ReplayManifest, Sources
from runstate.replay.runner import ReplayOptions, replay, replay_sources
from runstate.replay.verdict import REPLAY_SCHEMA, Verdict

__all__ = [
    "REPLAY_SCHEMA",
    "ReplayManifest",
    "ReplayOptions",
    "Sources",
    "Verdict",
    "replay",
    "replay_sources",
]
