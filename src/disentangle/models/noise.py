"""Standard normal noise that a packed group of models draws as each model alone would.

A run draws its sampling noise from torch's global stream, seeded with the run's seed
before its model is built. When K models train as one stacked model under
``torch.func.vmap`` (``disentangle.train.packed``), model k must draw the numbers its
own run would have drawn: ``standard_normal_like`` is the one draw that knows this.
Outside ``model_streams`` it is ``torch.randn_like`` (a run alone is unchanged, bit for
bit); inside ``model_streams(generators)``, under ``vmap`` model k's slice comes from
``generators[k]``, and outside ``vmap`` (one model of a group at a time) the draw comes
from the one generator given: CPU generators, one per model, each holding the state its run's
global stream would hold (torch's CPU generators are all mt19937, so equal states
draw equal numbers). The numbers are drawn on the CPU and moved to the models' device
(``K × batch × latent`` values per step), so that a group on a GPU draws what a group
on the CPU draws and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor

_STREAMS: ContextVar[tuple[torch.Generator, ...] | None] = ContextVar("model_streams", default=None)


@contextmanager
def model_streams(generators: Sequence[torch.Generator]) -> Iterator[None]:
    """Within this block, ``standard_normal_like`` under ``vmap`` over K models draws
    model k's noise from ``generators[k]`` (CPU generators, K of them), and outside
    ``vmap`` from ``generators[0]`` (then the only one)."""
    token = _STREAMS.set(tuple(generators))
    try:
        yield
    finally:
        _STREAMS.reset(token)


class _StandardNormal(torch.autograd.Function):
    """ε ~ N(0, I) shaped like the input; no gradient flows through it."""

    @staticmethod
    def forward(like: Tensor) -> Tensor:
        streams = _STREAMS.get()
        if streams is None:
            return torch.randn_like(like)
        (stream,) = streams
        return torch.randn(like.shape, generator=stream, dtype=like.dtype).to(like.device)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.mark_non_differentiable(output)

    @staticmethod
    def backward(ctx, grad: Tensor) -> None:
        return None

    @staticmethod
    def vmap(info, in_dims, like: Tensor) -> tuple[Tensor, int]:
        streams = _STREAMS.get()
        if streams is None or len(streams) != info.batch_size:
            found = "none" if streams is None else len(streams)
            raise RuntimeError(
                f"standard_normal_like under vmap over {info.batch_size} models needs one generator per model "
                f"(disentangle.models.noise.model_streams), got {found}"
            )
        (dim,) = in_dims
        shape = like.shape if dim is None else like.shape[:dim] + like.shape[dim + 1:]
        noise = torch.stack([torch.randn(shape, generator=stream, dtype=like.dtype) for stream in streams])
        return noise.to(like.device), 0


def standard_normal_like(like: Tensor) -> Tensor:
    """Standard normal noise shaped like ``like``: from torch's global stream, or in a
    packed group from each model's own stream (see the module)."""
    return _StandardNormal.apply(like)
