"""``python -m runstate.explain.worker JOB RESULT``: replay one hybrid state (a worker).

JOB is a JSON file written by :class:`runstate.explain.hybrid.HybridRunner` (the store, A's
and B's records, the hybrid spec, the env mode); the result (``runstate.explain-hybrid/v1``)
is written to RESULT atomically. The replayed program's output goes nowhere: the parent
shows a progress bar.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from runstate.explain.hybrid import replay_hybrid, spec_from_dict
    from runstate.store.atomic import atomic_write_bytes

    job_path, out_path = argv
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    result = replay_hybrid(
        job["store_root"],
        job["record_a"],
        job["record_b"],
        spec_from_dict(job["spec"]),
        job["env_mode"],
    )
    atomic_write_bytes(out_path, json.dumps(result, allow_nan=True).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
