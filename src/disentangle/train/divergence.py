"""Watching the loss terms for a non-finite value without waiting for the device each step.

A training loop that asks ``torch.isfinite(loss).all()`` as a Python bool every step
makes the host wait for the GPU every step. ``DivergenceWatch`` instead keeps, on the
device, the first step at which a watched loss was not finite and every term of that
step; the loop reads it (``first``) where it syncs anyway: before it logs, before it
writes a checkpoint or anything else to the run folder, and at the end. So no step's
non-finite loss reaches a log line or a checkpoint, and the error still names the step
it happened at, though it is raised at the next of those points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from disentangle import run_folder
from disentangle.errors import TrainingDiverged


@dataclass(frozen=True)
class Divergence:
    """The first non-finite loss seen: the model (0 unless packed), the 0-based step, the
    watched loss key that was not finite, the first term (in the loss's order) that was not,
    and that term's first non-finite value."""

    model: int
    step: int
    loss_key: str
    term: str
    value: float

    def error(self, run: Path, who: str = "", prefix: str = "") -> TrainingDiverged:
        """The error a loop raises: ``prefix`` (a packed group's names the run folder), the
        1-based step, ``who`` (a player other than the model, with a trailing space), the
        term and its value, and ``run``'s last good checkpoint."""
        last = run_folder.checkpoint_paths(run)
        kept = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
        return TrainingDiverged(
            f"{prefix}step {self.step + 1}: {who}loss term '{self.term}' is {self.value} (expected finite); {kept}"
        )


class DivergenceWatch:
    """The first step at which any of ``loss_keys`` was not finite, for each of ``models``
    models: ``None`` for one model's terms (scalars or vectors), K for a packed group's
    (each term's leading dimension is the model)."""

    def __init__(self, loss_keys: list[str], models: int | None = None):
        self.loss_keys, self.models = list(loss_keys), models
        self.first_step: Tensor | None = None  # int64 (K,), -1 while finite
        self.terms: dict[str, Tensor] = {}  # each term, (K, elements), at the first step that was not

    def observe(self, terms: dict[str, Tensor], step: int) -> None:
        """Record ``terms`` of ``step`` (0-based) if a watched loss is not finite there for
        the first time; queues device work only."""
        rows = {key: value.detach().reshape(self.models or 1, -1) for key, value in terms.items()}
        bad = torch.stack([~torch.isfinite(rows[key]).all(1) for key in self.loss_keys]).any(0)
        if self.first_step is None:
            self.first_step = torch.full_like(bad, -1, dtype=torch.int64)
        new = bad & (self.first_step < 0)
        self.first_step = torch.where(new, step, self.first_step)
        for key, row in rows.items():
            kept = self.terms.get(key)
            self.terms[key] = torch.where(new[:, None], row, row.new_zeros(()) if kept is None else kept)

    def first(self) -> Divergence | None:
        """The earliest divergence observed (the lowest model at that step), or None; one sync."""
        if self.first_step is None:
            return None
        steps = self.first_step.tolist()
        diverged = [(step, model) for model, step in enumerate(steps) if step >= 0]
        if not diverged:
            return None
        step, model = min(diverged)
        rows = {key: row[model].float().cpu() for key, row in self.terms.items()}
        not_finite = {key: ~torch.isfinite(row) for key, row in rows.items()}
        loss_key = next(key for key in self.loss_keys if not_finite[key].any())
        term = next(key for key in rows if not_finite[key].any())
        value = rows[term][not_finite[term]][0].item()
        return Divergence(model, step, loss_key, term, value)
