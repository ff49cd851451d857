"""Peer side of bench/checks.py: Evidently's DataDriftPreset and whylogs' drift scores.

Runs under bench/.venv-peers (``uv venv bench/.venv-peers && uv pip install --python
bench/.venv-peers/bin/python evidently whylogs ipython pyarrow "pandas<2.3" "numpy<2.3"``).
Reads pairs written by bench/checks.py (``.npz``: columns ``a_<col>``, ``b_<col>``) and
prints one JSON line per pair: per tool the drifted columns and the seconds it took (data
loading excluded).
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd


def frames(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = np.load(path)
    cols = sorted({k[2:] for k in data.files})
    a = pd.DataFrame({c: data[f"a_{c}"] for c in cols})
    b = pd.DataFrame({c: data[f"b_{c}"] for c in cols})
    return a, b


def evidently(a: pd.DataFrame, b: pd.DataFrame) -> tuple[list[str], float]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=b, reference_data=a)
    seconds = time.perf_counter() - start
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            value = float(metric["value"])
            method = str(config.get("method", ""))
            threshold = float(config["threshold"])
            # p-value methods drift below the threshold, distance methods above it
            is_p = "p_value" in method or "test" in method.lower()
            if (value < threshold) if is_p else (value >= threshold):
                drifted.append(config["column"])
    return drifted, seconds


def whylogs(a: pd.DataFrame, b: pd.DataFrame) -> tuple[list[str], float]:
    import whylogs as why
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    start = time.perf_counter()
    view_a = why.log(a).view()
    view_b = why.log(b).view()
    scores = calculate_drift_scores(target_view=view_b, reference_view=view_a, with_thresholds=True)
    seconds = time.perf_counter() - start
    drifted = [c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"]
    return drifted, seconds


def main() -> None:
    warnings.filterwarnings("ignore")
    tools = sys.argv[1].split(",")
    for path in sys.argv[2:]:
        a, b = frames(path)
        out: dict[str, object] = {"pair": path}
        for tool in tools:
            drifted, seconds = (evidently if tool == "evidently" else whylogs)(a, b)
            out[tool] = {"drifted": drifted, "seconds": seconds}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
