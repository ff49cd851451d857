"""Score every customer: data/customers.csv + models/model.pkl -> out/predictions.csv.

A customer is approved when the predicted risk of default is below ``threshold``. Run it
under capture (``--param`` overrides the default below):

    runstate run --name score --param threshold=0.5 --seed 7 -- python score.py
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

from preprocess import build_features

import runstate

with runstate.run("score", params={"threshold": 0.5}, seed=7) as run:
    # read_table: the access policy in force (runstate policy apply) filters the rows
    # before this code sees them, and the run records which rows it excluded.
    customers = run.read_table("customers", "data/customers.csv", key="customer_id", as_="arrow")
    rows = [{k: str(v) for k, v in row.items()} for row in customers.to_pylist()]
    with open(run.input("model", "models/model.pkl"), "rb") as f:
        model = pickle.load(f)

    with run.step("features"):
        X = build_features(rows)

    with run.step("score"):
        risk = model.predict_proba(X)[:, 1]  # probability of default
        approved = risk < run.params["threshold"]

    Path("out").mkdir(exist_ok=True)
    with open("out/predictions.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer_id", "score", "approved"])
        for row, score, ok in zip(rows, risk, approved, strict=True):
            writer.writerow([row["customer_id"], f"{score:.6f}", int(ok)])
    # Recorded as a table keyed by customer: a later run's diff says which customers'
    # predictions changed, not just that the file did.
    run.output("predictions", "out/predictions.csv", key="customer_id")

    run.metric("approval_rate", float(approved.mean()))
    run.metric("mean_score", float(risk.mean()))
    print(f"scored {len(rows)} customers; {approved.mean():.1%} approved")
