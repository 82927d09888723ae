"""Active units (Burda et al. 2016, "Importance Weighted Autoencoders", section 5.2).

The activity of latent dimension u is A_u = Cov_x(E_{q(z|x)}[z_u]), the variance over
the dataset of the posterior mean; u is active when A_u > 0.01 (Burda's 10⁻²). Units
whose posterior mean ignores the input (collapsed to the prior) have A_u ≈ 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import POSTERIOR, Inputs, metric
from disentangle.metrics.sampling import ENCODE_BATCH, check_codes


def active_units(
    representation_function: Callable[[np.ndarray], np.ndarray | tuple],
    num_observations: int,
    random_state: np.random.RandomState,
    threshold: float = 0.01,
    num_samples: int = 10_000,
) -> dict:
    """Count the dimensions whose posterior mean varies over dataset indices 0..N−1.

    ``representation_function``: indices ``(n,)`` → codes ``(n, D)`` (the posterior means,
    e.g. a ``MemoisedEncoder``) or a tuple whose first entry is the mean (e.g.
    ``MemoisedEncoder.posterior``). A_u is the variance (ddof = 0) over ``num_samples``
    indices drawn without replacement, or over the whole dataset when it is no larger.

    Returns ``num_active_units``, ``active_dimensions`` (indices with A_u > ``threshold``),
    ``activity`` (A_u per dimension, in squared code units) and ``settings``.
    """
    for name, value in (("num_observations", num_observations), ("num_samples", num_samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"active_units: {name} must be a positive integer, got {value!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
        raise InputError(f"active_units: threshold must be a non-negative number, got {threshold!r}")
    if num_samples >= num_observations:
        indices = np.arange(num_observations)
    else:
        indices = random_state.permutation(num_observations)[:num_samples]
    chunks = []
    for start in range(0, len(indices), ENCODE_BATCH):
        batch = indices[start : start + ENCODE_BATCH]
        output = representation_function(batch)
        codes = output[0] if isinstance(output, (tuple, list)) else output
        chunks.append(check_codes(codes, len(batch), chunks[0].shape[1] if chunks else None))
    activity = np.concatenate(chunks).var(axis=0)
    active = np.flatnonzero(activity > threshold)
    return {
        "num_active_units": int(active.size),
        "active_dimensions": active.tolist(),
        "activity": activity.tolist(),
        "settings": {
            "threshold": float(threshold),
            "num_samples": int(len(indices)),
            "num_observations": int(num_observations),
        },
    }


@metric("active_units", function=active_units, headline=("num_active_units",), needs=(POSTERIOR,))
def _evaluate(inputs: Inputs, random_state: np.random.RandomState, *, threshold=0.01, num_samples=10_000) -> dict:
    """Active units of the posterior means over every observation of ``inputs.data``
    (which must offer ``__len__`` and ``observations(indices)``, as a factor dataset does).

    Settings: ``threshold``, a unit is active when A_u exceeds it (Burda's 10⁻²);
    ``num_samples``, observations the activity is estimated on.
    """
    data = inputs.data
    return active_units(
        lambda indices: inputs.posterior_function(data.observations(indices)), len(data), random_state,
        threshold=threshold, num_samples=num_samples,
    )


ACTIVE_UNITS = _evaluate.metric
