"""Training that scales: the wide file (20,000 rows x 300 numeric columns) through the training core,
beside a plain HistGradientBoostingClassifier on the same features, in one process.

    .venv/bin/python bench/wide_bench.py [--rows 20000] [--columns 300] [--cores 2] [--gb-trees 0] [--step]

The candidate is what train.py runs: tasks.classifier.modeling.fit with the default TrainParams
(estimator "auto" picks the family by rows x columns; staged growth, early stopping on validation
log-loss, the best stage shipped) on `--cores` OpenMP threads. The
reference is HistGradientBoostingClassifier() with scikit-learn's defaults (its own early stopping
on 10% of the training rows) fitted on the same preprocessed training rows. Both are scored on the
same test rows. `--gb-trees N` also times GradientBoosting (the family "auto" leaves for smaller data)
for N trees and extrapolates to 300. `--step` also runs clean, feature and train as SageMaker jobs
(local runner, process engine) and reports the train step's wall time: the figure the issue's 30 s
bound is about. The jobs use the host's cores as the training toolkit counts them (SM_NUM_CPUS);
`--cores` is the in-process comparison's. The last line: name=value ratios (candidate / reference).

    .venv/bin/python bench/wide_bench.py --step --baseline main [--repeat 3] [--default-data]

`--baseline REF` runs the train step with REF's scripts/ (git archive, into a temporary folder)
beside this worktree's, on the same feature outputs, alternating `--repeat` times, and prints for
each side the median wall seconds of the job (toolkit, I/O and model.tar.gz packing included), the
CPU seconds of its processes (user + system of the launcher, toolkit and train.py, from the
children's resource usage: other load moves it far less than wall), the test AUC of the model it
packed and its model_sha256, and whether both sides' test scores are identical. `--default-data` runs the steps on data/lending_club.csv (target Class,
positive label bad, rownames dropped) instead of the wide file, and skips the in-process comparison.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
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


def step_seconds(frame) -> dict[str, float]:
    """clean, feature and train as jobs (local runner, process engine); each step's wall time."""
    from localrun.engines import ProcessEngine
    from localrun.runner import LocalSession

    with tempfile.TemporaryDirectory() as tmp:
        session = LocalSession(Path(tmp), ProcessEngine())
        times, outputs = features_as_jobs(session, frame, Path(tmp))
        times["train"] = train_as_job(ProcessEngine(), Path(tmp) / "train", outputs)["wall"]
    return times


def features_as_jobs(session, frame, tmp: Path, clean_args: dict | None = None):
    """clean and feature as jobs: their wall times and feature's outputs (train, validation, test, preprocessor)."""
    from localrun.jobs import Job
    from pipeline.spec import CLASSIFIER

    raw = tmp / "s3" / "raw"
    raw.mkdir(parents=True)
    frame.to_csv(raw / "data.csv", index=False)
    times = {}
    started = time.perf_counter()
    clean = session.run(Job(CLASSIFIER.step("clean"), {"raw": raw}, clean_args or {"target": "y", "positive_label": "yes"}))
    times["clean"] = time.perf_counter() - started
    started = time.perf_counter()
    feature = session.run(Job(CLASSIFIER.step("feature"), {"cleaned": clean.outputs["cleaned"]}))
    times["feature"] = time.perf_counter() - started
    return times, feature.outputs


def train_as_job(engine, run_dir: Path, outputs) -> dict:
    """The train step as a job in a new run folder (no checkpoints left by another run): wall and CPU
    seconds, and the packed model's test AUC and model_sha256."""
    from localrun.jobs import Job
    from localrun.runner import LocalSession
    from pipeline.spec import CLASSIFIER
    from sklearn.metrics import roc_auc_score
    from tasks.classifier import artifact, channels

    session = LocalSession(run_dir, engine)
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = session.run(Job(CLASSIFIER.step("train"), {k: outputs[k] for k in ("train", "validation", "preprocessor")}))
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(result.outputs["model"] / "model.tar.gz") as archive:
            archive.extractall(unpacked, filter="data")
        model = artifact.load(Path(unpacked))
    test = channels.read_split(outputs["test"])
    scores = model.predict(test)
    auc = roc_auc_score(model.schema.encode_target(test[model.schema.target]).to_numpy(), scores)
    return {"wall": wall, "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, "auc": auc,
            "scores": scores, "sha256": model.metadata["model_sha256"], "trees": model.metadata["params"]["trees"]}


def scripts_at(ref: str, destination: Path) -> tuple[Path, str]:
    """REF's scripts/ extracted under destination (git archive), and REF's commit."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref], check=True, capture_output=True,
                            text=True).stdout.strip()
    tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "scripts"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(destination, filter="data")
    return destination / "scripts", commit


def side_by_side(frame, ref: str, repeat: int, clean_args: dict | None) -> dict[str, float]:
    """The train step with REF's scripts and with this worktree's, alternating, on the same feature outputs."""
    from localrun.engines import ProcessEngine, _base_env
    from localrun.jobs import kind_of
    from localrun.runner import LocalSession

    class ScriptsEngine(ProcessEngine):
        """The process engine running steps with `scripts` (program and PYTHONPATH), their output discarded
        (a failure still names its reason: the runner reads output/failure)."""

        def __init__(self, scripts: Path):
            super().__init__()
            self.scripts, self.code_dir = scripts, str(scripts)

        def start(self, job, tree):
            argv, extra = kind_of(job.step).local_command(job, tree, self.scripts)
            env = {**_base_env(), **extra, "PYTHONPATH": str(self.scripts), "SAGEMAKER_BASE_DIR": str(tree)}
            return subprocess.Popen([sys.executable, *argv[1:]], env=env, cwd=tree, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with tempfile.TemporaryDirectory() as tmp:
        session = LocalSession(Path(tmp) / "run", ScriptsEngine(REPO / "scripts"))
        _, outputs = features_as_jobs(session, frame, Path(tmp) / "run", clean_args)
        baseline_scripts, commit = scripts_at(ref, Path(tmp) / "baseline")
        runs = {"baseline": [], "candidate": []}
        for number in range(repeat):
            for side, scripts in (("baseline", baseline_scripts), ("candidate", REPO / "scripts")):
                runs[side].append(train_as_job(ScriptsEngine(scripts), Path(tmp) / f"{side}-{number}", outputs))
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"train step as a job, {repeat} run(s) each, alternating; baseline {ref} ({commit}), candidate this worktree "
          f"(HEAD {head}, with its uncommitted changes); medians, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"| {'side':<10} | {'wall s':>7} | {'CPU s':>6} | {'walls':<24} | {'test AUC':>8} | trees | model_sha256 |")
    print(f"|{'-' * 12}|{'-' * 9}|{'-' * 8}|{'-' * 26}|{'-' * 10}|-------|--------------|")
    medians = {}
    for side, results in runs.items():
        wall, cpu = statistics.median(r["wall"] for r in results), statistics.median(r["cpu"] for r in results)
        medians[side] = (wall, cpu)
        walls = " ".join(f"{r['wall']:.1f}" for r in results)
        print(f"| {side:<10} | {wall:7.2f} | {cpu:6.2f} | {walls:<24} | {results[0]['auc']:8.4f} | {results[0]['trees']:5d} "
              f"| {results[0]['sha256'][:12]} |")
    every = [r for results in runs.values() for r in results]
    same_scores = all(np.array_equal(r["scores"], every[0]["scores"]) for r in every)
    shas = {side: {r["sha256"] for r in results} for side, results in runs.items()}
    print(f"test scores {'identical' if same_scores else 'DIFFERENT'} on both sides; model bytes: "
          + ("one model_sha256 everywhere" if len(shas["baseline"] | shas["candidate"]) == 1 else
             "equal within each side, other on the other side" if all(len(v) == 1 for v in shas.values()) else
             f"differ between runs of a side {shas}"))
    return {"step_wall_ratio": medians["candidate"][0] / medians["baseline"][0],
            "step_cpu_ratio": medians["candidate"][1] / medians["baseline"][1],
            "candidate_step_seconds": medians["candidate"][0], "candidate_step_cpu_seconds": medians["candidate"][1],
            "auc_delta": runs["candidate"][0]["auc"] - runs["baseline"][0]["auc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", type=int, default=300)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--gb-trees", type=int, default=0, help="also time GradientBoosting for this many trees")
    parser.add_argument("--step", action="store_true", help="also time the train step as a job")
    parser.add_argument("--baseline", metavar="REF", help="with --step: the train step with REF's scripts/ beside this "
                        "worktree's, on the same feature outputs")
    parser.add_argument("--repeat", type=int, default=1, help="with --baseline: runs of each side, alternating")
    parser.add_argument("--default-data", action="store_true", help="with --baseline: data/lending_club.csv, not the "
                        "wide file (no in-process comparison)")
    args = parser.parse_args()
    if args.baseline and args.default_data:
        import pandas as pd

        frame = pd.read_csv(REPO / "data" / "lending_club.csv")
        ratios = side_by_side(frame, args.baseline, args.repeat,
                              {"target": "Class", "positive_label": "bad", "id_columns": "rownames"})
        print(" ".join(f"{name}={value:.3f}" for name, value in ratios.items()))
        return

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
    if args.step and args.baseline:
        ratios.update(side_by_side(frame, args.baseline, args.repeat, None))
    elif args.step:
        times = step_seconds(frame)
        print("steps as jobs (wall s, toolkit and I/O included): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
        ratios["train_step_seconds"] = times["train"]
    print(" ".join(f"{name}={value:.3f}" for name, value in ratios.items()))


if __name__ == "__main__":
    main()
