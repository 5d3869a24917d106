"""`make serve`: the model of the latest successful run, served on 127.0.0.1 as an endpoint serves it,
until Ctrl-C. (Once deploy exists, what the gate approved and deploy deployed.)"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .endpoint import lay_out_serving
from .engines import REPO, SCRIPTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.serve")
    parser.add_argument("--work-dir", type=Path, default=REPO / "work")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    model = args.work_dir / "latest" / "s3" / "train" / "model" / "model.tar.gz"
    if not model.is_file():
        print(f"no model at {model}: run 'make run' first", file=sys.stderr)
        return 2
    tree = lay_out_serving(model.resolve(), Path(tempfile.mkdtemp(prefix="serve-")))
    print(f"serving {model.resolve()} on http://127.0.0.1:{args.port} (Ctrl-C stops)", flush=True)
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tree), "SAGEMAKER_BIND_TO_PORT": str(args.port), "SERVING_HOST": "127.0.0.1"}
    os.execve(sys.executable, [sys.executable, str(SCRIPTS / "serve")], env)


if __name__ == "__main__":
    sys.exit(main())
