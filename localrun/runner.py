"""Run steps as SageMaker would, handing each step's outputs to the next as S3 would.

The local "S3" is a folder: <run>/s3/<step>/<output>/. A processing output is copied there
when the step ends; a training job's model/ is packed into <run>/s3/<step>/model.tar.gz.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from contract import modeltar

from .engines import Engine
from .trees import Step, failure_text, hosts_for, lay_out_processing, lay_out_training


class StepFailed(RuntimeError):
    def __init__(self, step: str, host: str, code: int, reason: str | None):
        self.step, self.host, self.code, self.reason = step, host, code, reason
        super().__init__(f"step '{step}' on {host} failed with exit code {code}: {reason or '(no failure message written)'}")


@dataclass
class StepResult:
    step: Step
    trees: dict[str, Path]
    outputs: dict[str, Path]
    seconds: float


class LocalSession:
    def __init__(self, run_dir: Path, engine: Engine):
        self.run_dir = Path(run_dir)
        self.engine = engine
        self.s3 = self.run_dir / "s3"

    def _run_host(self, step: Step, host: str) -> tuple[str, Path]:
        root = self.run_dir / "jobs" / step.name
        if step.kind == "training":
            tree = lay_out_training(root, step, host, self.engine.code_dir)
        else:
            tree = lay_out_processing(root, step, host, self.engine.processing_entrypoint(step))
        code = self.engine.run(step, tree, host)
        if code != 0:
            raise StepFailed(step.name, host, code, failure_text(tree, step.kind))
        return host, tree

    def run(self, step: Step) -> StepResult:
        print(f"--- {step.name} ({step.kind}, {step.script}, {step.instance_count} instance(s))", flush=True)
        started = time.perf_counter()
        hosts = hosts_for(step)
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            trees = dict(pool.map(lambda h: self._run_host(step, h), hosts))
        outputs = self._upload(step, trees)
        return StepResult(step, trees, outputs, time.perf_counter() - started)

    def _upload(self, step: Step, trees: dict[str, Path]) -> dict[str, Path]:
        """Outputs of every host land under one prefix, as with S3 (later hosts win on clashes)."""
        destination = self.s3 / step.name
        if step.kind == "training":
            # SageMaker uploads the model directory of the leader; ours is algo-1
            model = trees[hosts_for(step)[0]] / "model"
            return {
                "model": modeltar.pack(model, destination / "model" / "model.tar.gz").parent,
                "output": _merge([t / "output" / "data" for t in trees.values()], destination / "output"),
            }
        return {
            name: _merge([t / "processing" / "output" / name for t in trees.values()], destination / name)
            for name in step.outputs
        }


def _merge(sources: list[Path], destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
    return destination
