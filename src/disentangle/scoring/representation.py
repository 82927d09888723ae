"""Representation functions that encode each distinct image at most once.

The metrics draw millions of observations (dlib's BetaVAE score alone asks for 1.92 M
encodings), yet dSprites holds only 737,280 distinct images. ``IndexedFactorData``
hands the metrics dataset *indices* as observations, and ``MemoisedEncoder`` maps
indices to codes, encoding each index the first time it is asked for (batched,
without gradients) and serving it from memory afterwards — across every metric and
every seed of an evaluation. The metrics cannot tell the difference: they only pass
observations from the data object to the representation function.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from disentangle.data import FactorDataset
from disentangle.errors import InputError


class IndexedFactorData:
    """A ``GroundTruthData`` view of ``dataset`` whose observations are dataset indices.

    Offers the GroundTruthData methods, plus ``__len__``, ``factors_of`` and
    ``observations`` (also indices) for the metrics that use the whole dataset.
    """

    def __init__(self, dataset: FactorDataset):
        self.dataset = dataset
        self.num_factors = dataset.num_factors
        self.factors_num_values = list(dataset.factors_num_values)
        self.factor_names = list(getattr(dataset, "factor_names", []))
        self.categorical_factors = getattr(dataset, "categorical_factors", None)
        self.observation_shape = dataset.observation_shape

    def __len__(self) -> int:
        return len(self.dataset)

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.dataset.sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors: np.ndarray, random_state) -> np.ndarray:
        return self.dataset.sample_indices_of(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.sample_observations_from_factors(self.sample_factors(num, random_state), random_state)

    def factors_of(self, index) -> np.ndarray:
        return self.dataset.factors_of(index)

    def observations(self, indices) -> np.ndarray:
        return np.asarray(indices, dtype=np.int64)


class MemoisedEncoder:
    """Index → code table filled lazily by ``encode_batch`` (observations → arrays).

    ``encode_batch`` maps a float tensor of observations ``(B, C, H, W)`` to a tuple of
    arrays, each ``(B, D_k)`` (for a Gaussian encoder: mean and log-variance). Calling
    the memo with indices ``(N,)`` returns the first array's rows; ``posterior`` returns
    all of them. ``encoded`` counts distinct images encoded, ``seconds`` the time spent.
    """

    def __init__(
        self,
        dataset: FactorDataset,
        encode_batch: Callable[[torch.Tensor], tuple[np.ndarray, ...]],
        batch_size: int = 512,
    ):
        self.dataset = dataset
        self.encode_batch = encode_batch
        self.batch_size = batch_size
        self.known = np.zeros(len(dataset), dtype=bool)
        self.tables: list[np.ndarray] | None = None
        self.encoded = 0
        self.seconds = 0.0

    def _fill(self, indices: np.ndarray) -> None:
        missing = np.unique(indices[~self.known[indices]])
        if missing.size == 0:
            return
        start = time.perf_counter()
        for first in range(0, missing.size, self.batch_size):
            chunk = missing[first : first + self.batch_size]
            outputs = self.encode_batch(self.dataset.observations(chunk))
            if self.tables is None:
                self.tables = [np.empty((len(self.dataset), o.shape[1]), dtype=np.float32) for o in outputs]
            for table, output in zip(self.tables, outputs):
                table[chunk] = output
        self.known[missing] = True
        self.encoded += int(missing.size)
        self.seconds += time.perf_counter() - start

    def _indices(self, observations) -> np.ndarray:
        indices = np.asarray(observations)
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise InputError(
                f"representation: expected dataset indices (N,) from IndexedFactorData, got an array of shape "
                f"{indices.shape} and dtype {indices.dtype}"
            )
        return indices

    def __call__(self, observations) -> np.ndarray:
        """Codes ``(N, D)`` of dataset indices ``(N,)``."""
        indices = self._indices(observations)
        self._fill(indices)
        return self.tables[0][indices] if self.tables else np.empty((0, 0), np.float32)

    def posterior(self, observations) -> tuple[np.ndarray, ...]:
        """Every output of ``encode_batch`` for dataset indices ``(N,)``."""
        indices = self._indices(observations)
        self._fill(indices)
        return tuple(table[indices] for table in self.tables)


def torch_encoder(function: Callable[[torch.Tensor], torch.Tensor | tuple], device: str = "cpu"):
    """Wrap a torch function of observations into an ``encode_batch`` for the memo:
    no gradients, inputs moved to ``device``, outputs as float32 NumPy arrays."""

    @torch.inference_mode()
    def encode_batch(x: torch.Tensor) -> tuple[np.ndarray, ...]:
        outputs = function(x.to(device))
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        return tuple(o.detach().to("cpu", torch.float32).numpy() for o in outputs)

    return encode_batch


class SampledRepresentation:
    """dlib's sampled representation: z = mean + exp(logvar / 2) * eps, eps ~ N(0, I).

    ``posterior_function`` maps observations to ``(mean, logvar)``, each ``(N, D)`` (e.g. a
    ``MemoisedEncoder``'s ``posterior``). Every call draws fresh noise, in row order, from
    ``numpy.random.default_rng(seed)``; ``reseed(seed)`` restarts that stream, so the codes
    depend only on the seed and on the sequence of rows asked for since.
    """

    def __init__(self, posterior_function: Callable, seed: int = 0):
        self.posterior_function = posterior_function
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)

    def __call__(self, observations) -> np.ndarray:
        """Codes ``(N, D)`` float64: one posterior sample per row."""
        mean, logvar = self.posterior_function(observations)[:2]
        mean, logvar = np.asarray(mean, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
        return mean + np.exp(0.5 * logvar) * self.generator.standard_normal(mean.shape)
