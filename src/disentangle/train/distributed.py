"""Data-parallel training over several processes, launched by ``torchrun``.

``torchrun --nproc-per-node N -m disentangle train ...`` starts N copies of the
command; each learns from a shard of every batch and all of them keep the same
weights. ``--batch-size`` stays the global batch, so hyperparameters mean the same at
any process count:

- batches: every process draws the same global batch from its own, equally seeded
  data generator and keeps its contiguous shard, so the data stream (and the data
  generator state in checkpoints) is the single-process run's;
- gradients: after each player's backward pass, its gradients are replaced by their
  mean over the processes. For a loss that is a mean over examples this is the
  gradient of the mean loss over the global batch;
- logged terms: each term is the mean of the processes' values, so ``log.jsonl``
  shows global-batch numbers;
- files: only rank 0 writes the run folder (config, log, TensorBoard, checkpoints).

Gradients are averaged by one explicit ``all_reduce`` per player rather than by
``DistributedDataParallel``: adversarial models take each player's gradient with
``torch.autograd.grad``, which DDP's hooks never see, so an explicit reduction is
needed there anyway, and using it for every model keeps one code path. What DDP
would add, overlapping communication with the backward pass, matters little for
these models (one to six million parameters: at most a few tens of megabytes of
gradient per step).

Terms computed non-linearly on the whole batch (β-TCVAE's minibatch TC estimate,
InfoVAE's MMD, DIP-VAE's covariances, FactorVAE's permuted codes, DC-IGN's batch mean)
are computed on each shard, and every process draws its own sampling noise; see
``docs/distributed.md`` for what is exactly equivalent to a single process.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from disentangle.errors import InputError
from disentangle.models import Model
from disentangle.resources import available_cpus


def _environment_int(name: str, world_size: int) -> int:
    value = os.environ.get(name)
    if value is None:
        raise InputError(f"WORLD_SIZE is {world_size} but {name} is not set (launch with torchrun)")
    return int(value)


def _leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _flattened(tensors: list[Tensor], collective: Callable[[Tensor], object]) -> None:
    """Run ``collective`` in place on ``tensors`` packed into one buffer (one message, not
    one per tensor), then copy the result back into each tensor."""
    flat = torch.cat([tensor.reshape(-1) for tensor in tensors])
    collective(flat)
    for tensor, part in zip(tensors, flat.split([tensor.numel() for tensor in tensors])):
        tensor.copy_(part.view(tensor.shape))


@dataclass(frozen=True)
class Processes:
    """This process's place in a training run: ``rank`` among ``world_size`` processes,
    ``local_world_size`` of them on this machine, training on ``device``.

    With one process (``world_size`` 1, the default) every check, collective and
    shard is skipped, so the training loop has a single code path and a single-process
    run never touches ``torch.distributed``.
    """

    device: str
    rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @classmethod
    def launched(cls, device: str) -> Processes:
        """The processes torchrun started (read from ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``
        and ``LOCAL_WORLD_SIZE``), or this one process when ``WORLD_SIZE`` is unset or 1.

        ``device`` is the ``--device`` setting: ``cpu``, or ``cuda`` for one GPU per
        process (``cuda:LOCAL_RANK``).
        """
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls(device=device)
        if device not in ("cpu", "cuda"):
            raise InputError(
                f"--device {device}: with {world_size} processes use cpu or cuda "
                "(each process then trains on cuda:LOCAL_RANK)"
            )
        local_rank = _environment_int("LOCAL_RANK", world_size)
        return cls(
            device="cpu" if device == "cpu" else f"cuda:{local_rank}",
            rank=_environment_int("RANK", world_size),
            world_size=world_size,
            local_world_size=_environment_int("LOCAL_WORLD_SIZE", world_size),
        )

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def threads_per_process(self) -> int:
        """CPU threads for this process when ``--threads`` is not given: the CPUs it may
        run on (``available_cpus``) shared equally among the processes running on the machine."""
        return max(1, available_cpus() // self.local_world_size)

    def check(self, model: Model, batch_size: int) -> None:
        """Raise ``InputError`` unless ``model`` can train data-parallel on global batches
        of ``batch_size``: the batch must split equally, and the model must have no
        buffers (state changed outside the gradient, such as VQ-VAE's EMA codebook,
        which would drift apart between the processes) but its ``constant_buffers`` and
        ``sampling_buffers``, which stay equal."""
        if self.world_size == 1:
            return
        if batch_size % self.world_size:
            raise InputError(
                f"--batch-size {batch_size}: must be divisible by the {self.world_size} processes "
                "(it is the global batch, split equally among them)"
            )
        kept_equal = (*model.constant_buffers, *model.sampling_buffers)
        buffers = [name for name, _ in model.named_buffers() if name not in kept_equal]
        if buffers:
            raise InputError(
                f"--model {model.name}: its buffers ({', '.join(buffers)}) change outside the gradient and "
                f"are not kept equal across {self.world_size} processes; train this setting in one process"
            )

    @contextmanager
    def joined(self) -> Iterator[None]:
        """Run the block in the process group (NCCL on GPUs, Gloo on the CPU), joining it
        first if nobody has. The block starts once every process is there, so checks
        made before it see the files as they were before rank 0 wrote anything, and it
        ends once every process has finished it, so no process returns before rank 0
        has written the run folder.

        The group is left when the process exits, not after the block: PyTorch cannot
        reliably create the default group again in one process, and a script under
        torchrun may train several runs. A group the caller created is used as it is.
        """
        if self.world_size == 1:
            yield
            return
        if not dist.is_initialized():
            if self.device.startswith("cuda"):
                torch.cuda.set_device(self.device)
                dist.init_process_group("nccl", device_id=torch.device(self.device))
            else:
                dist.init_process_group("gloo")
            atexit.register(_leave_process_group)
        dist.barrier()
        yield
        dist.barrier()

    def shard(self, batch: Tensor, blocks: int = 1) -> Tensor:
        """This process's part of a global batch made of ``blocks`` equal consecutive
        blocks of b rows (``Batch.blocks``; FactorVAE's second batch is a block): rows
        [rank·b/N, (rank+1)·b/N) of every block. The batch's context (``Batch.context``)
        describes the whole batch and is not split."""
        if self.world_size == 1:
            return batch
        block = batch.shape[0] // blocks
        size = block // self.world_size
        start = self.rank * size
        if blocks == 1:
            return batch[start : start + size]
        return batch.unflatten(0, (blocks, block))[:, start : start + size].flatten(0, 1)

    def seed_noise(self, seed: int, step: int) -> None:
        """Give every rank ≥ 1 its own torch random stream (sampling noise, permutations),
        derived from (seed, rank, step) when training starts or resumes at ``step``;
        rank 0 keeps the stream of a single-process run."""
        if self.rank > 0:
            torch.manual_seed(int(np.random.SeedSequence([seed, self.rank, step]).generate_state(1)[0]))

    def broadcast_parameters(self, model: Model) -> None:
        """Give every process rank 0's weights. Equal seeds already build equal weights;
        this makes it a guarantee (as ``DistributedDataParallel`` does)."""
        if self.world_size == 1:
            return
        with torch.no_grad():
            _flattened(list(model.parameters()), lambda flat: dist.broadcast(flat, src=0))

    def average_gradients(self, gradients: Iterable[Tensor | None]) -> None:
        """Replace each gradient, in place, by its mean over the processes. ``None`` (a
        parameter the loss does not use) stays ``None``; every process has the same ones."""
        if self.world_size == 1:
            return
        present = [gradient for gradient in gradients if gradient is not None]

        def mean(flat: Tensor) -> None:
            dist.all_reduce(flat)
            flat.div_(self.world_size)

        if present:
            _flattened(present, mean)

    def average_terms(self, terms: dict[str, float | list[float]]) -> dict[str, float | list[float]]:
        """The logged terms (``TermMeter.means``) averaged over the processes: for a
        per-example mean, its value on the global batch."""
        if self.world_size == 1:
            return terms
        parts = [torch.tensor(value, dtype=torch.float64).reshape(-1) for value in terms.values()]
        flat = torch.cat(parts).to(self.device)
        dist.all_reduce(flat)
        means = (flat / self.world_size).cpu().split([part.numel() for part in parts])
        return {
            key: mean.tolist() if isinstance(value, list) else mean.item()
            for (key, value), mean in zip(terms.items(), means)
        }
