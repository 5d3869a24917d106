"""Training that scales: the wide file (20,000 rows x 300 numeric columns) through the training core,
beside a plain HistGradientBoostingClassifier on the same features, in one process.

    .venv/bin/python bench/wide_bench.py [--rows 20000] [--columns 300] [--cores 2] [--gb-trees 0] [--step]

The candidate is what train.py runs: tasks.classifier.modeling.fit with the default TrainParams
(estimator "auto" picks the family by rows x columns; staged growth with a checkpoint per stage,
early stopping on validation log-loss, the best stage shipped) on `--cores` OpenMP threads. The
reference is HistGradientBoostingClassifier() with scikit-learn's defaults (its own early stopping
on 10% of the training rows) fitted on the same preprocessed training rows. Both are scored on the
same test rows. `--gb-trees N` also times GradientBoosting (the family "auto" leaves for smaller data)
for N trees and extrapolates to 300. `--step` also runs clean, feature and train as SageMaker jobs
(local runner, process engine) and reports the train step's wall time: the figure the issue's 30 s
bound is about. The last line: name=value ratios (candidate / reference).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# as the train image's launcher (contract.launch) sets it, for both runs: before OpenMP loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tasks.classifier import cleaning, features, modeling, schema, synthetic  # noqa: E402
from tasks.classifier.params import TrainParams  # noqa: E402


def prepared(rows: int, columns: int):
    frame = synthetic.wide(rows, columns)
    cleaned, _ = cleaning.clean(frame, "y")
    sch = schema.infer(cleaned, "y", "yes")
    train, validation, test = features.split(cleaned, sch, 0.15, 0.15, 42)
    return sch, train, validation, test, frame


def step_seconds(frame, cores: int) -> dict[str, float]:
    """clean, feature and train as jobs (local runner, process engine); each step's wall time."""
    from localrun.engines import ProcessEngine
    from localrun.jobs import Job
    from localrun.runner import LocalSession
    from pipeline.spec import CLASSIFIER

    os.environ["SM_NUM_CPUS"] = str(cores)  # what the training toolkit sets from the host
    with tempfile.TemporaryDirectory() as tmp:
        session = LocalSession(Path(tmp), ProcessEngine())
        raw = Path(tmp) / "s3" / "raw"
        raw.mkdir(parents=True)
        frame.to_csv(raw / "wide.csv", index=False)
        times = {}
        started = time.perf_counter()
        clean = session.run(Job(CLASSIFIER.step("clean"), {"raw": raw}, {"target": "y", "positive_label": "yes"}))
        times["clean"] = time.perf_counter() - started
        started = time.perf_counter()
        feature = session.run(Job(CLASSIFIER.step("feature"), {"cleaned": clean.outputs["cleaned"]}))
        times["feature"] = time.perf_counter() - started
        started = time.perf_counter()
        session.run(Job(CLASSIFIER.step("train"), {k: feature.outputs[k] for k in ("train", "validation", "preprocessor")}))
        times["train"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", type=int, default=300)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--gb-trees", type=int, default=0, help="also time GradientBoosting for this many trees")
    parser.add_argument("--step", action="store_true", help="also time the train step as a job")
    args = parser.parse_args()

    sch, train, validation, test, frame = prepared(args.rows, args.columns)
    y_test = sch.encode_target(test[sch.target]).to_numpy()
    rows = []

    started = time.perf_counter()
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams(), threads=args.cores)
    core_seconds = time.perf_counter() - started
    core_auc = roc_auc_score(y_test, fitted.pipeline.predict_proba(test[list(sch.features)])[:, 1])
    rows.append((f"training core ({type(fitted.state.model).__name__}, {fitted.state.trees} trees)", core_seconds, core_auc))

    X_train = preprocessor.transform(train[list(sch.features)])
    X_test = preprocessor.transform(test[list(sch.features)])
    y_train = sch.encode_target(train[sch.target]).to_numpy()
    with threadpool_limits(limits=args.cores, user_api="openmp"):
        started = time.perf_counter()
        reference = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
        reference_seconds = time.perf_counter() - started
        reference_auc = roc_auc_score(y_test, reference.predict_proba(X_test)[:, 1])
    rows.append((f"plain HistGradientBoostingClassifier() ({reference.n_iter_} iterations)", reference_seconds, reference_auc))

    if args.gb_trees:
        started = time.perf_counter()
        gb = GradientBoostingClassifier(n_estimators=args.gb_trees, learning_rate=0.05, max_depth=3, min_samples_leaf=20,
                                        random_state=0).fit(X_train, y_train)
        gb_seconds = time.perf_counter() - started
        gb_auc = roc_auc_score(y_test, gb.predict_proba(X_test)[:, 1])
        rows.append((f"GradientBoosting {args.gb_trees} trees (300 trees: about {gb_seconds * 300 / args.gb_trees:.0f} s)",
                     gb_seconds, gb_auc))

    print(f"wide file: {args.rows} rows x {args.columns} numeric columns; train {len(train)}, test {len(test)} rows; "
          f"{args.cores} core(s)")
    print(f"| {'run':<72} | {'fit s':>7} | {'test AUC':>8} |")
    print(f"|{'-' * 74}|{'-' * 9}|{'-' * 10}|")
    for name, seconds, auc in rows:
        print(f"| {name:<72} | {seconds:7.2f} | {auc:8.4f} |")
    ratios = {"time_ratio": core_seconds / reference_seconds, "auc_ratio": core_auc / reference_auc}
    if args.step:
        times = step_seconds(frame, args.cores)
        print("steps as jobs (wall s, toolkit and I/O included): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
        ratios["train_step_seconds"] = times["train"]
    print(" ".join(f"{name}={value:.3f}" for name, value in ratios.items()))


if __name__ == "__main__":
    main()
