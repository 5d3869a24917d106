"""A local stand-in for SageMaker: lays out /opt/ml trees, runs each step, moves outputs on.

It reuses the contract layer's own packing and extraction of model.tar.gz, so scripts/ is
importable from here as it is inside the images.
"""

import sys
from pathlib import Path

_SCRIPTS = str(Path(__file__).resolve().parents[1] / "scripts")
if _SCRIPTS not in sys.path:
    sys.path.insert(0, _SCRIPTS)
