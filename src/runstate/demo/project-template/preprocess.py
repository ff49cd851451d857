"""Turn customer rows into the model's feature matrix. train.py and score.py both use it.

A change here changes what the model sees: runstate records this file as part of every
run's code, so such a change shows up when you compare two runs.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

REGIONS = ("north", "south", "east", "west")
AGE_MIN, AGE_MAX = 18, 75  # ages outside this range are clipped

Row = Mapping[str, str]


def read_rows(path: str) -> list[dict[str, str]]:
    """The rows of a CSV file, as dictionaries of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def build_features(rows: Sequence[Row]) -> npt.NDArray[np.float64]:
    """One row of features per customer: age, log income, tenure, late payments, region."""
    age = np.clip([float(r["age"]) for r in rows], AGE_MIN, AGE_MAX)
    log_income = np.log([float(r["income"]) for r in rows])
    tenure_years = np.array([float(r["tenure_months"]) for r in rows]) / 12
    late_payments = np.array([float(r["n_late_payments"]) for r in rows])
    region = np.array([[r["region"] == name for name in REGIONS] for r in rows], dtype=np.float64)
    return np.column_stack([age, log_income, tenure_years, late_payments, region])
