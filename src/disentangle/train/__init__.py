"""Training: the loop, its settings, checkpoints and run folders."""

from disentangle.train.config import TrainConfig
from disentangle.train.loop import Run, load_run, resume, train, train_or_resume

__all__ = ["Run", "TrainConfig", "load_run", "resume", "train", "train_or_resume"]
