"""Training: the loop, its settings, checkpoints and run folders."""

from disentangle.train.config import DataConfig, RunConfig, TrainConfig
from disentangle.train.loop import Run, load_run, read_run_config, resume, train, train_or_resume

__all__ = [
    "DataConfig", "Run", "RunConfig", "TrainConfig", "load_run", "read_run_config", "resume", "train",
    "train_or_resume",
]
