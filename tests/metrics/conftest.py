"""Tiny factor datasets and representations for the metric tests.

``toy_data(sizes)`` is a GroundTruthData (dlib's interface, nothing more) whose
observation is the factor vector itself, as floats; representations map those
observations to codes.
"""

from __future__ import annotations

import numpy as np
import pytest


class ToyData:
    """Uniform factors of the given sizes; the observation is the factor vector."""

    def __init__(self, sizes, names=None):
        self.factors_num_values = list(sizes)
        self.num_factors = len(sizes)
        self.observation_shape = (len(sizes),)
        if names is not None:
            self.factor_names = list(names)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(n, size=num) for n in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, dtype=np.float64)


class Noise:
    """``num_codes`` codes of Gaussian noise, from their own generator."""

    def __init__(self, num_codes, seed=123):
        self.num_codes = num_codes
        self.rng = np.random.RandomState(seed)

    def __call__(self, observations):
        return self.rng.randn(len(observations), self.num_codes)


def identity(observations):
    """The factors themselves as the code."""
    return np.asarray(observations, dtype=np.float64)


@pytest.fixture(scope="session")
def toy_data():
    return ToyData


@pytest.fixture(scope="session")
def noise():
    return Noise


@pytest.fixture(scope="session")
def factors_as_codes():
    return identity


@pytest.fixture(scope="session")
def zaidi():
    """``zaidi_reference.py`` beside this file: Zaidi et al.'s reference arithmetic."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("zaidi_reference", Path(__file__).with_name("zaidi_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def dlib():
    """``dlib_reference.py`` beside this file: disentanglement_lib's arithmetic, written out."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("dlib_reference.py")
    spec = importlib.util.spec_from_file_location("dlib_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NoisyMixing:
    """Codes ``observations @ mixing`` plus ``scale`` times Gaussian noise from the
    representation's own generator, drawn row after row: the same codes whether the points
    come 16 at a time (dlib) or all at once."""

    def __init__(self, mixing, scale, seed=7):
        self.mixing, self.scale = np.asarray(mixing, dtype=np.float64), scale
        self.rng = np.random.RandomState(seed)

    def __call__(self, observations):
        codes = np.asarray(observations, dtype=np.float64) @ self.mixing
        return codes + self.scale * self.rng.randn(*codes.shape)


@pytest.fixture(scope="session")
def noisy_mixing():
    """``noisy_mixing(mixing, scale, seed=7)``: a fresh ``NoisyMixing`` representation."""
    return NoisyMixing
