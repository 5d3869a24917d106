"""The one place that knows SageMaker: paths, configs, parameters, failure reports, hosts.

Step scripts import from here; nothing else builds an /opt/ml path.
"""

from common.errors import ConfigError, DataError, Stopped, StepError
from .hyperparameters import Param
from .jobs import Hosts, ProcessingJob, TrainingJob, processing_job, training_job
from .metrics import log_metric, metric_definition
from .step import run_processing, run_training, stop_requested

__all__ = [
    "ConfigError", "DataError", "Hosts", "Param", "ProcessingJob", "Stopped", "StepError", "TrainingJob",
    "log_metric", "metric_definition", "processing_job", "run_processing", "run_training", "stop_requested",
    "training_job",
]
