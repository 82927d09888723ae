"""Training: the two loops (one run, a packed group), their shared steps, settings, precision and checkpoints; the run folder they write is ``disentangle.run_folder``."""

from disentangle.train.config import DataConfig, RunConfig, TrainConfig
from disentangle.train.loop import Run, load_run, read_run_config, resume, train, train_or_resume

__all__ = [
    "DataConfig", "Run", "RunConfig", "TrainConfig", "load_run", "read_run_config", "resume", "train",
    "train_or_resume",
]
