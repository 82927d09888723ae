"""Where training numbers go: ``log.jsonl``, TensorBoard scalars and a progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from disentangle.run_folder import LOG


class TermMeter:
    """Running sums of the loss terms between two logging steps (no per-step syncs)."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for key, value in terms.items():
            value = value.detach()
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
        self.count += 1

    def means(self) -> dict[str, float | list[float]]:
        """Mean of each term since the last call (vectors as lists), then reset."""
        result = {}
        for key, total in self.sums.items():
            mean = (total / self.count).cpu()
            result[key] = mean.item() if mean.numel() == 1 else mean.tolist()
        self.sums, self.count = {}, 0
        return result

    def means_per_model(self, models: int) -> list[dict[str, float | list[float]]]:
        """``means`` of terms stacked over the ``models`` of a packed group (each term's
        leading dimension): one mapping per model, then reset."""
        stacked = {key: (total / self.count).cpu() for key, total in self.sums.items()}
        self.sums, self.count = {}, 0
        return [
            {key: mean[k].item() if mean[k].numel() == 1 else mean[k].tolist() for key, mean in stacked.items()}
            for k in range(models)
        ]


class RunLogger:
    """Appends one JSON line per logging step and mirrors scalars to TensorBoard.

    The files are opened at the first ``write``, so a run that fails before it logs
    anything adds nothing to its folder."""

    def __init__(self, run: Path, start_step: int, total_steps: int, progress: bool):
        self.run = Path(run)
        self.start_step = start_step
        self.start_time = time.perf_counter()
        self.last_time, self.last_step = self.start_time, start_step
        self.log_file = self.writer = None
        self.bar = tqdm(
            total=total_steps, initial=start_step, disable=not progress, unit="step", dynamic_ncols=True, leave=True
        )

    def _open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imported here: it is slow to import

        self.log_file = open(self.run / LOG, "a", encoding="utf-8")
        self.writer = SummaryWriter(str(self.run), purge_step=self.start_step or None)

    def write(self, step: int, batch_size: int, terms: dict) -> None:
        if self.log_file is None:
            self._open()
        now = time.perf_counter()
        rate = (step - self.last_step) * batch_size / max(now - self.last_time, 1e-9)
        record = {"step": step, "time": round(now - self.start_time, 3), "images_per_second": round(rate, 1), **terms}
        self.log_file.write(json.dumps(record) + "\n")
        self.log_file.flush()
        for key, value in terms.items():
            if isinstance(value, list):
                for index, item in enumerate(value):
                    self.writer.add_scalar(f"{key}/{index}", item, step)
            else:
                self.writer.add_scalar(key, value, step)
        self.writer.add_scalar("images_per_second", rate, step)
        self.bar.update(step - self.bar.n)
        shown = {k: v for k, v in terms.items() if not isinstance(v, list) and k in ("loss", "recon", "kl", "tc", "mmd")}
        self.bar.set_postfix({**{k: f"{v:.4g}" for k, v in shown.items()}, "img/s": f"{rate:.0f}"}, refresh=False)
        self.last_time, self.last_step = now, step

    def close(self) -> None:
        self.bar.close()
        if self.log_file is not None:
            self.writer.close()
            self.log_file.close()
