"""How the default min_leaf_share was chosen: 5-fold cross-validation on the default data's train +
validation splits (the test split is never read), today's 20-row leaves beside row shares, in one process.

    .venv/bin/python bench/leaf_share_bench.py [--shares 0,0.01,0.03,0.05,0.08]

Each fold runs the training core as train.py does (preprocessor fitted on the fold's training rows, staged
growth, early stopping on the held-out fold) and records the shipped model's log-loss and AUC on that
fold. The last line: the candidate's (TrainParams' default share) cross-validated log-loss and AUC as
ratios of the 20-row baseline's (share 0).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `make run` trains
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from common.storage import read_tables  # noqa: E402
from tasks.classifier import cleaning, features, modeling, roles, schema  # noqa: E402
from tasks.classifier.params import TrainParams  # noqa: E402
from tasks.classifier.training import leaf_rows  # noqa: E402


def default_data() -> tuple[pd.DataFrame, schema.Schema]:
    """lending_club as `make run` cleans it: target Class, positive bad, rownames an identifier."""
    rows = read_tables([REPO / "data" / "lending_club.csv"])
    cleaned, _ = cleaning.clean(rows, "Class")
    found = roles.infer(cleaned, "Class", roles.declared_roles(id_columns=["rownames"]))
    sch = schema.infer(cleaned, "Class", "bad", ["rownames"], roles=found.roles)
    return cleaned[~cleaned.duplicated()].reset_index(drop=True), sch


def cross_validated(rows: pd.DataFrame, sch, params: TrainParams, folds) -> tuple[float, float, float, int]:
    losses, aucs = [], []
    for train_at, held_at in folds:
        train, held = rows.iloc[train_at].reset_index(drop=True), rows.iloc[held_at].reset_index(drop=True)
        fitted = modeling.fit(train, held, sch, features.fit_preprocessor(train, sch), params, threads=1)
        losses.append(fitted.validation_logloss)
        aucs.append(fitted.validation_auc)
    return float(np.mean(losses)), float(np.mean(aucs)), float(np.std(aucs)), leaf_rows(params, len(folds[0][0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", default="0,0.01,0.03,0.05,0.08")
    args = parser.parse_args()
    cleaned, sch = default_data()
    train, validation, _ = features.split(cleaned, sch, 0.15, 0.15, 42)  # the feature step's defaults; test unread
    rows = pd.concat([train, validation], ignore_index=True)
    labels = sch.encode_target(rows[sch.target]).to_numpy()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(rows, labels))
    shares = sorted({float(s) for s in args.shares.split(",")} | {0.0, TrainParams().min_leaf_share})
    results = {s: cross_validated(rows, sch, TrainParams(min_leaf_share=s), folds) for s in shares}
    print(f"default data: {len(rows)} train+validation rows, 5 folds; min_samples_leaf {TrainParams().min_samples_leaf}")
    print(f"| {'min_leaf_share':>14} | {'leaf rows':>9} | {'CV log-loss':>11} | {'CV AUC':>7} | {'AUC sd':>6} |")
    print(f"|{'-' * 16}|{'-' * 11}|{'-' * 13}|{'-' * 9}|{'-' * 8}|")
    for share, (loss, auc, sd, leaf) in results.items():
        print(f"| {share:14.2f} | {leaf:9d} | {loss:11.5f} | {auc:7.4f} | {sd:6.4f} |")
    base, candidate = results[0.0], results[TrainParams().min_leaf_share]
    print(f"logloss_ratio={candidate[0] / base[0]:.4f} auc_ratio={candidate[1] / base[1]:.4f}")


if __name__ == "__main__":
    main()
