"""``python -m runstate.explain.worker --serve``: a worker that replays hybrid states.

It reads one job file path per line on stdin. A job (JSON, written by
:class:`runstate.explain.hybrid.HybridRunner`) names the store, A's and B's records, the
hybrid spec, the env mode and ``out``, the file to write the result
(``runstate.explain-hybrid/v1``) to, atomically; then the worker writes one line to stdout.
It exits when stdin closes. The replayed programs' output never reaches stdout (the replay
sends it to stderr, which the parent discards): the parent shows a progress bar.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def run_job(job_path: str) -> None:
    from runstate.explain.hybrid import replay_hybrid, spec_from_dict
    from runstate.store.atomic import atomic_write_bytes

    with open(job_path, encoding="utf-8") as handle:
        job: dict[str, Any] = json.load(handle)
    try:
        result = replay_hybrid(
            job["store_root"],
            job["record_a"],
            job["record_b"],
            spec_from_dict(job["spec"]),
            job["env_mode"],
        )
    except Exception as exc:
        result = {
            "schema": "runstate.explain-hybrid/v1",
            "state_id": job["spec"]["state_id"],
            "factors": job["spec"]["factors"],
            "status": "failed",
            "reason": f"{type(exc).__name__}: {exc}",
        }
    atomic_write_bytes(job["out"], json.dumps(result, allow_nan=True).encode())


def main(argv: list[str]) -> int:
    if argv != ["--serve"]:
        sys.stderr.write("usage: python -m runstate.explain.worker --serve\n")
        return 2
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        run_job(path)
        sys.stdout.write("done\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
