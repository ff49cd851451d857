"""Make data/customers.csv: 5,000 synthetic loan customers and whether each one defaulted.

The generator is seeded, so it writes the same bytes every time:

    python generate.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

N_CUSTOMERS = 5_000
REGIONS = ("north", "south", "east", "west")
REGION_RISK = {"north": -0.2, "south": 0.3, "east": 0.0, "west": 0.1}


def main() -> None:
    rng = np.random.default_rng(2024)
    age = rng.integers(18, 90, N_CUSTOMERS)
    income = rng.lognormal(mean=10.6, sigma=0.5, size=N_CUSTOMERS)
    region = rng.choice(REGIONS, N_CUSTOMERS)
    tenure_months = rng.integers(0, 120, N_CUSTOMERS)
    n_late_payments = rng.poisson(0.8, N_CUSTOMERS)

    # The hidden truth the model has to learn: late payments, low income, short tenure
    # and old age raise the risk of default.
    risk = (
        -1.0
        + 0.8 * n_late_payments
        - 0.9 * (np.log(income) - 10.6)
        - 0.01 * tenure_months
        + 0.03 * np.clip(age - 60, 0, None)
        + np.array([REGION_RISK[r] for r in region])
    )
    defaulted = rng.random(N_CUSTOMERS) < 1 / (1 + np.exp(-risk))

    Path("data").mkdir(exist_ok=True)
    with open("data/customers.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "customer_id",
                "age",
                "income",
                "region",
                "tenure_months",
                "n_late_payments",
                "defaulted",
            ]
        )
        for i in range(N_CUSTOMERS):
            writer.writerow(
                [
                    f"C{i + 1:05d}",
                    int(age[i]),
                    f"{income[i]:.2f}",
                    region[i],
                    int(tenure_months[i]),
                    int(n_late_payments[i]),
                    int(defaulted[i]),
                ]
            )
    print(f"wrote data/customers.csv ({N_CUSTOMERS} customers, {defaulted.mean():.1%} defaulted)")


if __name__ == "__main__":
    main()
