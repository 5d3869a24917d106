"""`python -m localrun`: the whole pipeline locally, on the default dataset or any binary-target CSV."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .engines import REPO, ProcessEngine
from .pipeline import PipelineConfig, run_pipeline
from .runner import StepFailed

DEFAULT_DATA = REPO / "data" / "lending_club.csv"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localrun", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV/Parquet file or folder (default: lending_club)")
    parser.add_argument("--target", help="target column (default for lending_club: Class)")
    parser.add_argument("--positive-label", help="positive target value (default for lending_club: bad)")
    parser.add_argument("--id-columns", default=None, help="comma-separated id columns to drop (lending_club: rownames)")
    parser.add_argument("--engine", choices=["process", "docker"], default="process")
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--clean-instances", type=int, default=1, help="instances for clean.py (input sharded by file)")
    parser.add_argument("--hyperparameter", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="training hyperparameter (repeatable), e.g. -p n_estimators=200")
    args = parser.parse_args(argv)
    args.data, args.work_dir = args.data.resolve(), args.work_dir.resolve()
    if args.data == DEFAULT_DATA:
        args.target = args.target or "Class"
        args.positive_label = args.positive_label or "bad"
        args.id_columns = "rownames" if args.id_columns is None else args.id_columns
    if not args.target or not args.positive_label:
        parser.error("--target and --positive-label are required for data other than the default dataset")
    bad = [item for item in args.hyperparameter if "=" not in item]
    if bad:
        parser.error(f"--hyperparameter takes KEY=VALUE, got {bad}")
    return args


def _engine(name: str):
    if name == "docker":
        from .docker_engine import DockerEngine

        return DockerEngine()
    return ProcessEngine()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    runs = args.work_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=runs))  # unique per run
    latest = args.work_dir / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(run_dir.relative_to(args.work_dir))
    hyperparameters = dict(item.split("=", 1) for item in args.hyperparameter)
    config = PipelineConfig(
        data=args.data, target=args.target, positive_label=args.positive_label,
        id_columns=[c for c in (args.id_columns or "").split(",") if c],
        clean_instances=args.clean_instances,
        hyperparameters={k: _literal(v) for k, v in hyperparameters.items()},
    )
    try:
        summary = run_pipeline(config, run_dir, _engine(args.engine))
    except StepFailed as failure:
        print(f"\nPIPELINE FAILED: {failure}", file=sys.stderr)
        return 1
    print("\n=== local pipeline finished ===")
    for name, path in summary["outputs"].items():
        print(f"  {name:<12} {path}")
    print(f"  steps (s)    {json.dumps(summary['step_seconds'])}")
    print(f"validation AUC {summary['validation_auc']:.4f}, validation log-loss {summary['validation_logloss']:.4f}")
    print(f"TEST AUC {summary['test_auc']:.4f}  (wall time {summary['wall_seconds']:.1f} s, run {run_dir})")
    return 0


def _literal(text: str):
    """-p values as the SDK would send them: numbers and booleans typed, the rest strings."""
    try:
        return json.loads(text)
    except ValueError:
        return text


if __name__ == "__main__":
    sys.exit(main())
