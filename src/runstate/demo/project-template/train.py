"""Train the default-risk model: data/customers.csv -> models/model.pkl.

Run it under capture (``--param`` and ``--seed`` override the defaults below):

    runstate run --name train --seed 7 -- python train.py
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from preprocess import build_features, read_rows
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import runstate

with runstate.run("train", params={"C": 1.0, "test_size": 0.2}, seed=7) as run:
    rows = read_rows(run.input("customers", "data/customers.csv"))

    with run.step("features"):
        X = build_features(rows)
        y = np.array([int(r["defaulted"]) for r in rows])

    with run.step("fit"):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=run.params["test_size"], random_state=run.seed, stratify=y
        )
        model = make_pipeline(StandardScaler(), LogisticRegression(C=run.params["C"]))
        model.fit(X_train, y_train)

    Path("models").mkdir(exist_ok=True)
    with open("models/model.pkl", "wb") as f:
        pickle.dump(model, f)
    run.output("model", "models/model.pkl")

    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    run.metric("test_auc", auc)
    print(f"trained on {len(y_train)} customers; test AUC {auc:.3f}")
