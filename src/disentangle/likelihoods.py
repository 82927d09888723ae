"""Observation models log p(x | z), given the decoder's output for z.

``log_prob`` is in nats, summed over every pixel and channel, one value per example
``(N,)``: the models negate it and average over the batch to get ``recon``, as
disentanglement_lib does.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.errors import InputError


class Likelihood(ABC):
    """A family of pixel distributions parameterised by the decoder output."""

    name: str

    @abstractmethod
    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """log p(x | params) in nats, summed over pixels: ``(N,)``."""

    @abstractmethod
    def mean(self, params: Tensor) -> Tensor:
        """The expected image in [0, 1], shaped like ``params``."""

    def describe(self) -> dict:
        return {"likelihood": self.name}


class Bernoulli(Likelihood):
    """Independent Bernoulli pixels with logits ``params`` (sigmoid cross-entropy).

    Targets may be any value in [0, 1] (grey levels act as soft labels, as in dlib).
    """

    name = "bernoulli"

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
        return -nll.flatten(1).sum(1)

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params)


class Gaussian(Likelihood):
    """Independent Gaussian pixels with mean ``sigmoid(params)`` and fixed std σ.

    The full density, constant included: −log p = ‖x − μ‖² / (2σ²) + D·log(σ√(2π)).
    The default σ = 1/√2 makes the data term the sum of squared errors.
    """

    name = "gaussian"

    def __init__(self, std: float = 1 / math.sqrt(2)):
        if not std > 0:
            raise InputError(f"--gaussian-std: must be > 0, got {std}")
        self.std = float(std)

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        squared = (x - torch.sigmoid(params)).square().flatten(1).sum(1)
        pixels = x[0].numel()
        return -squared / (2 * self.std**2) - pixels * math.log(self.std * math.sqrt(2 * math.pi))

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params)

    def describe(self) -> dict:
        return {"likelihood": self.name, "gaussian_std": self.std}


LIKELIHOODS = ("bernoulli", "gaussian")


def get_likelihood(name: str, gaussian_std: float = 1 / math.sqrt(2)) -> Likelihood:
    """The likelihood called ``name`` (``bernoulli`` or ``gaussian``)."""
    if name == "bernoulli":
        return Bernoulli()
    if name == "gaussian":
        return Gaussian(gaussian_std)
    raise InputError(f"--likelihood: unknown '{name}' (expected one of {', '.join(LIKELIHOODS)})")
