"""The classifier's training parameters, declared once: type, default, help and bounds.

Light on purpose (standard library only): the pipeline spec imports it to declare the train
step's hyperparameters, and the training core takes the same object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .families import NAMES


def _p(default, help: str, **bounds):  # noqa: A002 - the Param field is called help
    return field(default=default, metadata={"help": help, **bounds})


@dataclass(frozen=True)
class TrainParams:
    n_estimators: int = _p(300, "most trees to grow", minimum=1)
    stage_size: int = _p(10, "trees per stage (early stopping, checkpoints and SIGTERM act at stage boundaries)", minimum=1)
    learning_rate: float = _p(0.05, "shrinkage", minimum=1e-6, maximum=1.0)
    max_depth: int = _p(3, "depth of each tree", minimum=1, maximum=32)
    min_samples_leaf: int = _p(20, "rows per leaf at least", minimum=1)
    min_leaf_share: float = _p(
        0.03, "share of the training rows per leaf at least (the leaf is the larger of this and min_samples_leaf): "
        "chosen by 5-fold cross-validated log-loss on the default data, where 20-row leaves overfit its 5% positives",
        minimum=0.0, maximum=0.5,
    )
    subsample: float = _p(1.0, "row share per tree", minimum=0.05, maximum=1.0)
    early_stopping_stages: int = _p(5, "stop after this many stages without better validation log-loss (0: never)", minimum=0)
    seed: int = _p(42, "random seed")
    estimator: str = _p(
        "auto", "the model family (tasks/classifier/families): gb: GradientBoosting (faster predictions), hgb: "
        "HistGradientBoosting (fits far faster on large or wide sets; no subsample), auto: gb below 500000 training "
        "rows and 1000000 rows x columns, hgb from there (gb when subsample < 1)",
        choices=("auto", *NAMES),
    )

    def fingerprint(self, *data_hashes: str) -> str:
        text = json.dumps({"params": asdict(self), "data": data_hashes}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
