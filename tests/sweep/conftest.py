"""A sweep small enough to train and score in seconds: a β-VAE on dSprites for 4 steps,
scored with MIG under the fast preset."""

import pytest


def tiny_spec(**changes) -> dict:
    """The tiny sweep's content, with top-level keys replaced by ``changes``."""
    spec = {
        "model": {"name": "beta-vae", "architecture": "mlp", "latent_dim": 4},
        "data": {"name": "dsprites"},
        "train": {"batch_size": 8, "checkpoint_every": 2, "log_every": 2},
        "steps": 4,
        "grid": {"model.beta": [1, 4]},
        "evaluate": {"metrics": ["mig"], "seeds": [0], "preset": "fast"},
    }
    return {**spec, **changes}


@pytest.fixture
def tiny():
    return tiny_spec
