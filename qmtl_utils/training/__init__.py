"""Training protocols of Appendix C: task-sampled GLUE (:mod:`.glue`, C.1), masked CheXpert
(:mod:`.chexpert`, C.2) and parallel Extended MUStARD (:mod:`.mustard`, C.3), on the shared
helpers of :mod:`.common` (early stopping, best checkpoint, LR scheduler, progress lines)."""

from qmtl_utils.training.chexpert import ChexpertSettings, train_chexpert
from qmtl_utils.training.common import (
    BestCheckpoint,
    EarlyStopping,
    MultiTaskModel,
    Progress,
    plateau_scheduler,
)
from qmtl_utils.training.glue import GlueSettings, TaskSampler, train_glue
from qmtl_utils.training.mustard import MustardSettings, train_mustard, validation_split

__all__ = [
    "BestCheckpoint",
    "ChexpertSettings",
    "EarlyStopping",
    "GlueSettings",
    "MultiTaskModel",
    "MustardSettings",
    "Progress",
    "TaskSampler",
    "plateau_scheduler",
    "train_chexpert",
    "train_glue",
    "train_mustard",
    "validation_split",
]
