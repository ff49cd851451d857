"""The one exception tree of runstate.

Every error runstate raises on purpose derives from :class:`RunstateError`, so a caller can
catch "anything runstate refused" in one clause. Where a caller would naturally reach for a
builtin (``FileNotFoundError`` for a missing input, ``LookupError`` for an unknown run,
``PermissionError`` for a denied read, ``ValueError`` for a malformed value), the runstate
class also inherits that builtin, as httpx does for its transport errors.

Each class carries the process exit code the CLI uses for it: ``2`` for usage and input
errors (the contract in ARCHITECTURE.md), ``1`` for integrity findings::

    RunstateError (exit 2)
    ├── UsageError (ValueError)                  bad argument, malformed option or value
    │   ├── InvalidSeed                          seed outside 0 <= seed < 2**32
    │   └── PolicyError                          invalid policy document, filter or mask key
    ├── InputError                               a user-named input cannot be used
    │   ├── InputNotFound (FileNotFoundError)    path does not exist
    │   └── InputUnreadable (PermissionError)    path exists but cannot be read
    ├── NotFound (LookupError)                   a reference resolves to nothing
    │   ├── RunNotFound
    │   ├── ReleaseNotFound
    │   ├── AliasNotFound
    │   └── AmbiguousReference                   a run id prefix matches several runs
    ├── StoreError                               the store itself is unusable
    │   ├── StoreNotFound                        no .runstate/ up from the working directory
    │   ├── StoreExists                          init over an existing store
    │   ├── StoreCorrupt                         truncated database, unreadable config
    │   ├── ObjectMissing (FileNotFoundError)    a row names an object that is not there
    │   └── ConcurrentUpdate                     lost a race that a retry could not settle
    ├── AccessDenied (PermissionError)           the access policy refuses a read
    ├── ReleaseError                             release rules: immutability, signing
    │   ├── SigningError                         bad key file, key not pinned, bad signature
    │   └── ReplayMismatch (exit 1)              --verify-replay: the run did not reproduce
    ├── ReplayError                              a recorded state cannot be materialised
    │   ├── CodeRestoreError                     commit gone, diff does not apply, no sources
    │   └── EnvBuildError                        a recorded package cannot be installed
    └── IntegrityError (exit 1)                  ``verify`` found problems
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AliasNotFound",
    "AmbiguousReference",
    "CodeRestoreError",
    "ConcurrentUpdate",
    "EnvBuildError",
    "InputError",
    "InputNotFound",
    "InputUnreadable",
    "IntegrityError",
    "InvalidSeed",
    "NotFound",
    "ObjectMissing",
    "PolicyError",
    "ReleaseError",
    "ReleaseNotFound",
    "ReplayError",
    "ReplayMismatch",
    "RunNotFound",
    "RunstateError",
    "SigningError",
    "StoreCorrupt",
    "StoreError",
    "StoreExists",
    "StoreNotFound",
    "UsageError",
]


class RunstateError(Exception):
    """Root of every error runstate raises on purpose.

    ``exit_code`` is what the CLI exits with; the message is written as one line a user can
    act on (what is wrong, and where).
    """

    exit_code: int = 2


class UsageError(RunstateError, ValueError):
    """A command-line argument or API value is malformed."""


class InvalidSeed(UsageError):
    """A seed that NumPy and ``random`` cannot both accept."""


class PolicyError(UsageError):
    """A policy document is invalid (line and field named), a row filter does not parse or
    names a missing column, or a ``hash`` rule has no ``RUNSTATE_MASK_KEY``."""


class AccessDenied(RunstateError, PermissionError):
    """The access policy does not let this principal read this dataset for this purpose;
    the message names the dataset and the rule (or the default) that decided."""


class InputError(RunstateError):
    """An input or output the user named cannot be fingerprinted."""


class InputNotFound(InputError, FileNotFoundError):
    """The named path does not exist."""


class InputUnreadable(InputError, PermissionError):
    """The named path exists but cannot be read."""


class NotFound(RunstateError, LookupError):
    """A run, release or alias reference resolves to nothing."""


class RunNotFound(NotFound):
    """No run has this id (or id prefix)."""


class ReleaseNotFound(NotFound):
    """No release has this ``NAME@vN``."""


class AliasNotFound(NotFound):
    """No alias has this name."""


class AmbiguousReference(NotFound):
    """A run id prefix matches more than one run."""


class StoreError(RunstateError):
    """The store cannot be opened or used."""


class StoreNotFound(StoreError):
    """No ``.runstate/`` was found walking up from the working directory."""


class StoreExists(StoreError):
    """``runstate init`` found a store already there."""


class StoreCorrupt(StoreError):
    """The metadata database or a store file is damaged."""


class ObjectMissing(StoreError, FileNotFoundError):
    """A row names an object that is not in the object store."""


class ConcurrentUpdate(StoreError):
    """A concurrent writer won a race that retries could not settle."""


class ReleaseError(RunstateError):
    """A release rule was broken (e.g. an attempt to change an immutable release)."""


class SigningError(ReleaseError):
    """A signing key is unusable, not pinned, or a signature does not verify."""


class ReplayMismatch(ReleaseError):
    """``release create --verify-replay``: the run's replay was not identical or equivalent,
    so no release was created."""

    exit_code = 1


class ReplayError(RunstateError):
    """A recorded run cannot be materialised for a replay (nothing was run)."""


class CodeRestoreError(ReplayError):
    """The recorded code cannot be restored exactly: commit gone, diff does not apply."""


class EnvBuildError(ReplayError):
    """The recorded environment cannot be built; the message names the package."""


class IntegrityError(RunstateError):
    """``runstate verify`` found problems; the message counts them."""

    exit_code = 1
