"""Training settings, validated up front and stored in ``config.json``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from disentangle.errors import InputError

OPTIMIZERS = ("adam", "adagrad")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. Defaults are disentanglement_lib's (Locatello et al. 2019).

    Attributes:
        steps: total optimisation steps of the run (a resumed run continues to this).
        batch_size: observations per step, drawn uniformly with replacement (over all
            processes together when launched by torchrun; see ``docs/distributed.md``).
        optimizer: ``adam`` (dlib) or ``adagrad`` (Higgins et al. 2017, lr 1e-2).
        learning_rate, adam_beta1, adam_beta2, adam_eps: optimizer settings.
        seed: seeds weights, batches and sampling noise; equal seeds give equal CPU runs.
        log_every: steps between lines of ``log.jsonl`` (each the mean over those steps).
        checkpoint_every: steps between checkpoints; one is always written at the end.
        keep_checkpoints: how many recent checkpoints to keep (older ones are deleted).
        device: a torch device string (``cpu``, ``cuda``, ``cuda:1``, ...).
        threads: CPU threads for PyTorch (default: all cores).
    """

    steps: int = 300_000
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 10_000
    keep_checkpoints: int = 2
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self):
        checks = [
            ("steps", self.steps >= 1, "an integer ≥ 1"),
            ("batch_size", self.batch_size >= 1, "an integer ≥ 1"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("learning_rate", self.learning_rate > 0, "> 0"),
            ("adam_beta1", 0 <= self.adam_beta1 < 1, "in [0, 1)"),
            ("adam_beta2", 0 <= self.adam_beta2 < 1, "in [0, 1)"),
            ("adam_eps", self.adam_eps > 0, "> 0"),
            ("seed", self.seed >= 0, "an integer ≥ 0"),
            ("log_every", self.log_every >= 1, "an integer ≥ 1"),
            ("checkpoint_every", self.checkpoint_every >= 1, "an integer ≥ 1"),
            ("keep_checkpoints", self.keep_checkpoints >= 1, "an integer ≥ 1"),
            ("threads", self.threads is None or self.threads >= 1, "an integer ≥ 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise InputError(f"--{name.replace('_', '-')}: must be {expected}, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "train settings") -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"{source}: unknown training setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)
