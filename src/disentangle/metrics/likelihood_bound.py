"""The importance-weighted bound on log p(x) (Burda et al. 2016, "Importance Weighted
Autoencoders", eq. 8 and Theorem 1):

    L_k(x) = log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x),   z_1..z_k ~ q(z|x) = N(mean, diag exp(logvar)),

with the prior p(z) = N(0, I). L_1 is the ELBO, E[L_k] ≤ E[L_{k+1}] ≤ log p(x), and L_k → log p(x)
as k grows; Burda evaluate with k = 5,000. When q(z|x) is the exact posterior every weight
equals p(x), and L_k = log p(x) for every k.

Numerics run in torch float64, on the device of the posterior that ``encode_posterior``
returns: z is drawn there from ``random_state``'s standard normals, the weights are combined
with a log-sum-exp over chunks of samples, and ``log_likelihood`` receives z as float64 (cast
it to the decoder's dtype). Results are in nats per observation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from disentangle.errors import InputError
from disentangle.metrics.descriptor import LIKELIHOOD, POSTERIOR, Inputs, metric


def importance_weighted_bound(
    encode_posterior: Callable,
    log_likelihood: Callable,
    observations,
    random_state: np.random.RandomState,
    num_importance_samples: int = 5000,
    batch_size: int = 8192,
    num_dimensions: int | None = None,
) -> dict:
    """L_k averaged over ``observations`` (any sliceable batch of observations or indices).

    ``encode_posterior(batch)`` → ``(mean, logvar)``, each ``(n, D)`` (tensors or arrays);
    ``log_likelihood(batch, z)`` with z ``(n, s, D)`` → log p(x|z) ``(n, s)``, summed over the
    observation's dimensions. ``batch_size`` bounds the latent samples per ``log_likelihood``
    call: ``batch_size // k`` observations (at least one) with all k samples, or one
    observation with chunks of ``batch_size`` samples. For each call ``random_state`` draws
    standard normals of shape ``(n, s, D)``, in order; z = mean + exp(logvar / 2) · noise.

    Returns ``iwae_bound`` (mean L_k, nats), its ``standard_error`` over observations,
    ``elbo`` (the mean log-weight of the same samples, = ``iwae_bound`` for k = 1),
    ``bits_per_dim`` = −L_k / (``num_dimensions`` · ln 2) when ``num_dimensions`` is given
    (no dequantisation offset), and ``settings``.
    """
    k = num_importance_samples
    _check_positive("num_importance_samples", k)
    _check_positive("batch_size", batch_size)
    if num_dimensions is not None:
        _check_positive("num_dimensions", num_dimensions)
    total = len(observations)
    if total == 0:
        raise InputError("importance_weighted_bound: expected at least one observation")
    per_call, samples_per_call = max(1, batch_size // k), min(k, batch_size)
    bounds, elbos, dims = [], [], None
    with torch.no_grad():
        for start in range(0, total, per_call):
            batch = observations[start : start + per_call]
            mean, logvar = _posterior(encode_posterior(batch), min(per_call, total - start), dims)
            num, dims = mean.shape
            std = (0.5 * logvar).exp()[:, None]
            log_sum = torch.full((num,), -math.inf, dtype=torch.float64, device=mean.device)
            weight_sum = torch.zeros(num, dtype=torch.float64, device=mean.device)
            for first in range(0, k, samples_per_call):
                size = min(samples_per_call, k - first)
                noise = torch.from_numpy(random_state.standard_normal((num, size, dims))).to(mean.device)
                z = mean[:, None] + std * noise
                # log p(z) − log q(z|x): the log(2π) terms cancel
                log_w = _likelihood(log_likelihood(batch, z), num, size, mean.device) - 0.5 * (
                    z.square() - noise.square() - logvar[:, None]
                ).sum(2)
                log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_w, 1))
                weight_sum += log_w.sum(1)
            bounds.append((log_sum - math.log(k)).cpu())
            elbos.append((weight_sum / k).cpu())
    bound = torch.cat(bounds).numpy()
    result = {
        "iwae_bound": float(bound.mean()),
        "standard_error": float(bound.std(ddof=1) / math.sqrt(total)) if total > 1 else float("nan"),
        "elbo": float(torch.cat(elbos).mean()),
    }
    if num_dimensions is not None:
        result["bits_per_dim"] = -result["iwae_bound"] / (num_dimensions * math.log(2))
    result["settings"] = {
        "num_importance_samples": int(k),
        "batch_size": int(batch_size),
        "num_observations": int(total),
        "num_dimensions": num_dimensions,
    }
    return result


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"importance_weighted_bound: {name} must be a positive integer, got {value!r}")


def _posterior(output, rows: int, dims: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, logvar)`` as float64 tensors ``(rows, D)``, checked."""
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise InputError("encode_posterior: expected a tuple (mean, logvar) of arrays (n, D)")
    checked = []
    for name, array in zip(("mean", "logvar"), output):
        try:
            tensor = torch.as_tensor(array).to(torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise InputError(f"encode_posterior: {name} is not a numeric array") from None
        shape = tuple(tensor.shape)
        if len(shape) != 2 or shape[0] != rows or shape[1] == 0 or dims not in (None, shape[1]):
            expected = f"({rows}, {dims})" if dims else f"({rows}, D)"
            raise InputError(f"encode_posterior: expected {name} of shape {expected}, got {shape}")
        if not torch.isfinite(tensor).all():
            raise InputError(f"encode_posterior: {name} holds NaN or infinite values")
        checked.append(tensor)
        dims = tensor.shape[1]
    return checked[0], checked[1].to(checked[0].device)


def _likelihood(output, rows: int, samples: int, device: torch.device) -> torch.Tensor:
    """log p(x|z) as a float64 tensor ``(rows, samples)`` on ``device``: finite or −inf."""
    try:
        tensor = torch.as_tensor(output).to(device=device, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise InputError("log_likelihood: expected a numeric array (n, s)") from None
    if tuple(tensor.shape) != (rows, samples):
        raise InputError(f"log_likelihood: expected shape ({rows}, {samples}), got {tuple(tensor.shape)}")
    if torch.isnan(tensor).any() or (tensor == math.inf).any():
        raise InputError("log_likelihood: returned NaN or +inf, expected finite values or -inf")
    return tensor


@metric(
    "iwae_bound", function=importance_weighted_bound, headline=("iwae_bound",), needs=(POSTERIOR, LIKELIHOOD),
    standard_normal_prior=True,
)
def _evaluate(
    inputs: Inputs, random_state: np.random.RandomState, *, num_observations=500, num_importance_samples=100
) -> dict:
    """The bound on ``num_observations`` observations of ``inputs.data`` drawn without
    replacement (``data`` must offer ``__len__`` and ``observations(indices)``), with
    ``num_importance_samples`` (k) samples each."""
    data = inputs.data
    count = min(num_observations, len(data))
    indices = random_state.choice(len(data), count, replace=False)
    values = importance_weighted_bound(
        inputs.posterior_function, inputs.log_likelihood, data.observations(indices), random_state,
        num_importance_samples=num_importance_samples, num_dimensions=int(np.prod(data.observation_shape)),
    )
    values["settings"]["num_observations"] = count
    return values


IWAE_BOUND = _evaluate.metric
