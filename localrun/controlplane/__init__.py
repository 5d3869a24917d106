"""A local SageMaker control plane: the SageMaker, Application Auto Scaling and runtime APIs on 127.0.0.1.

The same boto3 code runs against AWS and against it (`endpoint_url=ensure_running(state_dir)`).
State is SQLite (state.db) plus an artifact store; endpoints are hosted by an engine behind a
stable local port. Run it with `python -m localrun.controlplane start|status|stop|endpoints`.
"""

from .daemon import ensure_running, stop

__all__ = ["ensure_running", "stop"]
