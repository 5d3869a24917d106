"""Which gradient-boosting estimator for the classifier: measured on the default data.

5-fold stratified CV on data/lending_club.csv with the project's own cleaning and
preprocessing; each candidate is fitted and timed in the same process, side by side.

    .venv/bin/python bench/estimator_bench.py
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as in a serving worker
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from tasks.classifier import cleaning, features, schema  # noqa: E402

CANDIDATES = {
    # the project's choice, with train.py's defaults (100 trees is where early stopping lands)
    "gb": lambda: GradientBoostingClassifier(n_estimators=100, learning_rate=0.05, max_depth=3,
                                             min_samples_leaf=20, random_state=0),
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, max_depth=3,
                                                  min_samples_leaf=20, early_stopping=False, random_state=0),
}


def timed(fn, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1000


def main() -> None:
    raw = pd.read_csv(REPO / "data" / "lending_club.csv")
    cleaned, _ = cleaning.clean(raw, "Class")
    sch = schema.infer(cleaned, "Class", "bad", ["rownames"])
    X, y = cleaned[list(sch.features)], sch.encode_target(cleaned["Class"]).to_numpy()
    results = {name: [] for name in CANDIDATES}
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        pre = features.fit_preprocessor(X.iloc[train_idx], sch)
        X_train, X_test = pre.transform(X.iloc[train_idx]), pre.transform(X.iloc[test_idx])
        for name, make in CANDIDATES.items():
            model = make()
            started = time.perf_counter()
            model.fit(X_train, y[train_idx])
            fit_s = time.perf_counter() - started
            proba = model.predict_proba(X_test)[:, 1]
            results[name].append((
                roc_auc_score(y[test_idx], proba), log_loss(y[test_idx], proba), fit_s,
                timed(partial(model.predict_proba, X_test[:1000]), 20), timed(partial(model.predict_proba, X_test[:1]), 200),
            ))
    print(f"{'estimator':<10} {'AUC':>14} {'log-loss':>9} {'fit s':>7} {'1000 rows ms':>13} {'1 row ms':>9}")
    summary = {}
    for name, rows in results.items():
        a = np.array(rows)
        summary[name] = a.mean(axis=0)
        print(f"{name:<10} {a[:, 0].mean():.4f}±{a[:, 0].std():.4f} {a[:, 1].mean():>9.4f} {a[:, 2].mean():>7.2f}"
              f" {a[:, 3].mean():>13.2f} {a[:, 4].mean():>9.2f}")
    gb, hgb = summary["gb"], summary["hgb"]
    print(f"auc_gb={gb[0]:.4f} auc_hgb={hgb[0]:.4f} auc_diff_gb_minus_hgb={gb[0] - hgb[0]:.4f} "
          f"predict1000_ratio_hgb_vs_gb={hgb[3] / gb[3]:.2f} predict1_ratio_hgb_vs_gb={hgb[4] / gb[4]:.2f} "
          f"fit_ratio_gb_vs_hgb={gb[2] / hgb[2]:.2f}")


if __name__ == "__main__":
    main()
