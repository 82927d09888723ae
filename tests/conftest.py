"""Shared fixtures: every test process renders dSprites at most once, into a temporary
cache that never touches the user's home folder; every test starts from the same seeds;
under ``CI`` Hypothesis draws the same examples on every run."""

import hashlib
import os
import random

import numpy as np
import pytest
import torch
from hypothesis import settings

from disentangle.data import FactorDataset

# Under CI the examples are derived from each test's name, not drawn afresh, so that CI
# passes or fails by the code; a local run keeps searching at random (and replays the
# failures it saved in .hypothesis/). An example that ever failed stays as an @example.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("local", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


@pytest.fixture(autouse=True)
def fixed_global_seeds():
    """Python's, NumPy's and torch's global generators seeded alike before every test, so
    that no test depends on which tests ran before it in the same process."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def dsprites_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dsprites-cache")
    previous = os.environ.get("DISENTANGLE_CACHE")
    os.environ["DISENTANGLE_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("DISENTANGLE_CACHE", None)
    else:
        os.environ["DISENTANGLE_CACHE"] = previous


class TinyFactors(FactorDataset):
    """Factors (4, 5, 6); each image is 2×2 pixels holding a fixed mixing of the factors."""

    factors_num_values = [4, 5, 6]
    factor_names = ["a", "b", "c"]

    @property
    def observation_shape(self):
        return (1, 2, 2)

    def images(self, indices):
        factors = torch.as_tensor(self.factors_of(np.asarray(indices)), dtype=torch.float32)
        mixing = torch.tensor([[40.0, 0, 0, 10], [0, 50.0, 0, 10], [0, 0, 42.0, 10]])
        return (factors @ mixing).clamp(0, 255).to(torch.uint8).view(-1, 1, 2, 2)


@pytest.fixture
def tiny_factors():
    """A 120-image factor dataset whose 2×2 images mix the factors linearly."""
    return TinyFactors()


def _folder_hash(folder) -> str:
    """SHA-256 over every path under ``folder`` and every file's bytes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def folder_hash():
    """``folder_hash(folder)``: one hash of a folder's names and bytes, to show it unchanged."""
    return _folder_hash


class GridFactors(FactorDataset):
    """Images that are their own index (a 1×1 image holding the index), on a grid whose
    ``nuisance`` axes are not ground-truth factors."""

    name = "grid"

    def __init__(self, grid: list[int], nuisance: tuple[int, ...] = ()):
        self._grid, self._nuisance = list(grid), tuple(nuisance)
        self.factors_num_values = [size for axis, size in enumerate(grid) if axis not in nuisance]
        self.factor_names = [f"f{axis}" for axis in range(len(grid)) if axis not in nuisance]

    @property
    def grid_num_values(self):
        return self._grid

    @property
    def factor_axes(self):
        return tuple(axis for axis in range(len(self._grid)) if axis not in self._nuisance)

    @property
    def observation_shape(self):
        return (1, 1, 1)

    def images(self, indices):
        return torch.as_tensor(np.asarray(indices), dtype=torch.float64).reshape(-1, 1, 1, 1)

    def observations(self, indices):
        return self.images(indices)


@pytest.fixture(scope="session")
def grid_factors():
    """``GridFactors``: ``grid_factors(grid, nuisance=())`` builds one."""
    return GridFactors


def _small_encoder(observation_shape, out_features):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(observation_shape)), 48),
                               torch.nn.ReLU(), torch.nn.Linear(48, out_features))


def _small_decoder(latent_dim, observation_shape):
    return torch.nn.Sequential(torch.nn.Linear(latent_dim, 48), torch.nn.Tanh(),
                               torch.nn.Linear(48, int(np.prod(observation_shape))),
                               torch.nn.Unflatten(1, tuple(observation_shape)))


@pytest.fixture
def small_mlp(monkeypatch):
    """The architecture 'small-mlp' (one hidden layer of 48 units) registered for the test; its name."""
    from disentangle import nets

    monkeypatch.setattr(nets, "_REGISTRY", dict(nets._REGISTRY))
    nets.register_architecture("small-mlp", _small_encoder, _small_decoder)
    return "small-mlp"


def _assert_packed_as_alone(packed: dict, alone: dict, learning_rate: float, steps: int) -> None:
    """The tolerance of a packed run against its run alone (docs/packing.md), over two
    checkpoints' tensors: the random streams and step counts equal, each weight tensor
    within rms(packed − alone) ≤ 1e-4·rms(alone) + 0.01·learning_rate·steps, each
    optimizer moment within 1e-2·rms(alone)."""
    assert packed.keys() == alone.keys()
    for key, value in packed.items():
        if key.startswith("rng.") or value.ndim == 0:
            assert torch.equal(value, alone[key]), key
            continue
        rms, scale = (value - alone[key]).square().mean().sqrt(), alone[key].square().mean().sqrt()
        if key.startswith("model."):
            assert rms <= 1e-4 * scale + 0.01 * learning_rate * steps, key
        else:
            assert rms <= 1e-2 * scale, key


@pytest.fixture
def assert_packed_as_alone():
    """``assert_packed_as_alone(packed, alone, learning_rate, steps)``: the packing tolerance."""
    return _assert_packed_as_alone
