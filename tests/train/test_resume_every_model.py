"""Bit-exact resume, for every registered model: a run stopped at a checkpoint and resumed
ends with every tensor of its checkpoint (weights, buffers, every optimizer's state, the
generator) equal to the uninterrupted run's, and logs the same terms.

Parametrized over ``MODELS``, so a model added to the registry is covered without
editing this file: the multi-optimizer models (FactorVAE, S2-FactorVAE, VAE-GAN, AVB,
InfoGAN), VQ-VAE's moving-average codebook, the annealed and scheduled models (annealed
VAE, k-sparse AE, the semi-supervised schedules) and DRAW's recurrence included.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from disentangle.models import MODELS
from disentangle.train import resume, train
from disentangle.run_folder import checkpoint_paths, read_log

#: small and quick: dlib's conv nets on 64×64 dSprites, six steps, stopped at the third
SETTINGS = dict(batch_size=4, log_every=1, checkpoint_every=3, keep_checkpoints=5, seed=3, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_resumed_run_ends_with_every_tensor_of_the_uninterrupted_one(name, tmp_path):
    whole = train(tmp_path / "whole", name, "dsprites", steps=6, **SETTINGS)
    parts = train(tmp_path / "parts", name, "dsprites", steps=3, **SETTINGS)
    resume(parts, steps=6, progress=False)
    mine, theirs = checkpoint_paths(parts), checkpoint_paths(whole)
    assert [path.name for path in mine] == [path.name for path in theirs]
    a, b = load_file(str(mine[-1])), load_file(str(theirs[-1]))
    assert a.keys() == b.keys()
    assert {"rng.torch", "rng.data"} <= a.keys() and any(key.split(".")[0] not in ("model", "rng") for key in a)
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"tensors that differ from the uninterrupted run: {different}"
    with safe_open(str(mine[-1]), "pt") as file_a, safe_open(str(theirs[-1]), "pt") as file_b:
        # the optimizers' settings and every checksum (JSON whose key order may differ)
        assert _parsed(file_a.metadata()) == _parsed(file_b.metadata())
    resumed, straight = read_log(parts), read_log(whole)
    assert len(resumed) == len(straight) == 6
    wall_clock = ("time", "images_per_second")
    assert [{k: v for k, v in line.items() if k not in wall_clock} for line in resumed] == [
        {k: v for k, v in line.items() if k not in wall_clock} for line in straight]


def _parsed(metadata: dict[str, str]) -> dict:
    def value(text: str):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    return {key: value(text) for key, text in metadata.items()}
