"""The ELBO's KL term decomposed over the whole dataset (Chen et al. 2018, "Isolating
Sources of Disentanglement in Variational Autoencoders", eq. 2 and appendix C).

With observations n = 0..N-1 drawn uniformly (p(n) = 1/N), diagonal Gaussian posteriors
q(z|n) = N(mean_n, diag exp(logvar_n)), the aggregate posterior q(z) = (1/N) Σ_n q(z|n),
its marginals q(z_j) and the prior p(z) = N(0, I):

    E_n KL(q(z|n) ‖ p(z)) = I_q(n; z)                          index-code MI
                          + KL(q(z) ‖ Π_j q(z_j))              total correlation
                          + Σ_j KL(q(z_j) ‖ p(z_j))            dimension-wise KL

All values are in nats. The left side (``average_kl``) is analytic and exact. The
three terms are Monte Carlo averages over ``num_samples`` pairs (n, z ~ q(z|n)):

    MI ≈ mean[log q(z|n) − log q(z)],   TC ≈ mean[log q(z) − Σ_j log q(z_j)],
    KL_j ≈ mean[log q(z_j) − log p(z_j)],

so they always add up to the Monte Carlo estimate mean[log q(z|n) − log p(z)] of the
left side (``decomposition_sum``); its distance to ``average_kl`` is sampling error
only. Observations are drawn in passes: each pass a random permutation of the dataset,
so with ``num_samples`` = N every observation is used once (Chen's evaluation, one z per
image). The estimators differ in how they evaluate log q(z) and log q(z_j):

``"exact"`` (default)
    Against the mixture of all N posteriors, streamed over blocks of components with a
    running log-sum-exp in float64: N · num_samples · D density evaluations, each 10–20 ns
    on one CPU core, most of it in ``exp`` (dSprites, 10 latents, 10,000 samples: 7.4e10
    evaluations; the time is linear in ``num_samples``: 30.4 s for 500 samples on 2 cores,
    so about 10 minutes, ``benchmarks/decomposition_estimators.py``, docs/benchmarks.md).
``"mws"``
    Minibatch-weighted sampling, as β-TCVAE trains: the samples are split into batches of
    ``batch_size`` distinct observations (B) and log q(z_i) ≈ logsumexp_j log q(z_i|n_j)
    − log(N·B) over the batch, the same per dimension. Biased even with B = N, where it
    gives exactly log q(z) − log N (so MI + log N, TC + (D−1) log N, dimension-wise
    KL − D log N); for posteriors that do not overlap the offset tends to −log B.
``"mss"``
    Minibatch-stratified sampling with Chen's importance weights: in a batch of B = M + 1
    observations a sample's own posterior has weight 1/N, one other (N − M)/(N·M) and the
    remaining M − 1 others 1/M. Every row sums to 1 and, for a batch drawn uniformly
    without replacement, the weighted sum estimates q(z) without bias (the logarithm is
    biased low by Jensen's inequality, less so as B grows). Chen's
    ``log_importance_weight_matrix`` strides by the batch size, so it puts 1/N in column 0
    rather than on the diagonal, and gives row M − 1 the stratum weight twice (its weights
    sum to 1 + 1/M − 2/N); here each row gets each weight once, 1/N on the diagonal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import POSTERIOR, Inputs, metric
from disentangle.metrics.sampling import ENCODE_BATCH

ESTIMATORS = ("exact", "mws", "mss")

#: float64 elements per block of density evaluations (2 MB: a block stays in cache)
_BLOCK = 1 << 18
#: mixture components per block of the exact estimator
_COMPONENTS = 2048
_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)

Posterior = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def elbo_decomposition(
    posterior_function: Posterior,
    num_observations: int,
    random_state: np.random.RandomState,
    estimator: str = "exact",
    num_samples: int = 10_000,
    batch_size: int = 64,
) -> dict:
    """Chen's decomposition of E_n KL(q(z|n) ‖ N(0, I)) over dataset indices 0..N−1, in nats.

    ``posterior_function``: dataset indices ``(n,)`` → ``(mean, logvar)``, each ``(n, D)``
    (e.g. ``MemoisedEncoder.posterior``); it is called on every index, 4,096 at a time.
    ``num_samples`` (n, z) pairs are drawn (10,000 by default; Chen uses the whole dataset,
    ``num_samples = N``); ``batch_size`` is B of the ``"mws"`` and ``"mss"`` estimators
    (2 ≤ B ≤ N; the samples are rounded up to whole batches), unused by ``"exact"``.

    Returns ``index_code_mi``, ``total_correlation``, ``dimwise_kl`` (summed over
    dimensions) and ``dimwise_kl_per_dim`` (D), their sum ``decomposition_sum``, the exact
    ``average_kl`` and ``average_kl_per_dim`` (D), ``standard_errors`` of the four
    estimates (samples treated as independent) and ``settings``. Estimates are not clipped:
    MI and TC can come out slightly negative where they are near 0.
    """
    if estimator not in ESTIMATORS:
        raise InputError(
            f"elbo_decomposition: estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}"
        )
    _check_count("num_observations", num_observations, 1)
    _check_count("num_samples", num_samples, 1)
    minibatch = estimator != "exact"
    if minibatch:
        _check_count("batch_size", batch_size, 2)
        if batch_size > num_observations:
            raise InputError(
                f"elbo_decomposition: batch_size must be at most num_observations = {num_observations}, "
                f"got {batch_size}"
            )
    mean, logvar = _read_posteriors(posterior_function, num_observations)
    log_std = 0.5 * logvar
    dims = mean.shape[1]

    if minibatch:
        num_batches = -(-num_samples // batch_size)
        per_pass = (num_observations // batch_size) * batch_size
        indices = _passes(num_observations, per_pass, num_batches * batch_size, random_state)
    else:
        indices = _passes(num_observations, num_observations, num_samples, random_state)
    noise = random_state.standard_normal((len(indices), dims))
    z = mean[indices] + np.exp(log_std[indices]) * noise
    log_conditional = np.sum(-0.5 * noise**2 - log_std[indices] - _HALF_LOG_2PI, axis=1)
    log_prior = -0.5 * z**2 - _HALF_LOG_2PI

    if minibatch:
        shape = (num_batches, batch_size)
        if estimator == "mws":
            log_weights = np.full((batch_size, batch_size), -np.log(num_observations * batch_size))
        else:
            log_weights = mss_log_weights(batch_size, num_observations)
        log_joint, log_marginals = _minibatch_log_densities(
            z.reshape(*shape, dims), mean, log_std, indices.reshape(shape), log_weights
        )
        log_joint, log_marginals = log_joint.reshape(-1), log_marginals.reshape(-1, dims)
    else:
        log_joint, log_marginals = _exact_log_densities(z, mean, log_std)

    terms = {
        "index_code_mi": log_conditional - log_joint,
        "total_correlation": log_joint - log_marginals.sum(axis=1),
        "dimwise_kl": (log_marginals - log_prior).sum(axis=1),
        "decomposition_sum": log_conditional - log_prior.sum(axis=1),
    }
    average_kl_per_dim = np.mean(0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar), axis=0)
    return {
        **{name: float(values.mean()) for name, values in terms.items()},
        "dimwise_kl_per_dim": np.mean(log_marginals - log_prior, axis=0).tolist(),
        "average_kl": float(average_kl_per_dim.sum()),
        "average_kl_per_dim": average_kl_per_dim.tolist(),
        "standard_errors": {
            name: float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
            for name, values in terms.items()
        },
        "settings": {
            "estimator": estimator,
            "num_samples": int(len(indices)),
            "batch_size": int(batch_size) if minibatch else None,
            "num_observations": int(num_observations),
        },
    }


def mss_log_weights(batch_size: int, num_observations: int) -> np.ndarray:
    """log of Chen's minibatch-stratified weights ``(B, B)``, row i = sample i, column j =
    posterior j: 1/N on the diagonal, (N − M)/(N·M) at column (i + 1) mod B, 1/M elsewhere
    (M = B − 1). Each row sums to 1."""
    others = batch_size - 1
    weights = np.full((batch_size, batch_size), 1.0 / others)
    rows = np.arange(batch_size)
    weights[rows, rows] = 1.0 / num_observations
    weights[rows, (rows + 1) % batch_size] = (num_observations - others) / (num_observations * others)
    return np.log(weights)


def _read_posteriors(posterior_function: Posterior, num_observations: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, logvar)`` float64 ``(N, D)`` of every dataset index, checked."""
    means, logvars = [], []
    for start in range(0, num_observations, ENCODE_BATCH):
        indices = np.arange(start, min(start + ENCODE_BATCH, num_observations))
        output = posterior_function(indices)
        if not isinstance(output, (tuple, list)) or len(output) != 2:
            raise InputError("posterior_function: expected a tuple (mean, logvar) of arrays (n, D)")
        dims = means[0].shape[1] if means else None
        for name, array, kept in zip(("mean", "logvar"), output, (means, logvars)):
            kept.append(_checked(name, array, len(indices), dims))
            dims = kept[-1].shape[1]
    return np.concatenate(means), np.concatenate(logvars)


def _checked(name: str, array, rows: int, dims: int | None) -> np.ndarray:
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"posterior_function: {name} is not a numeric array") from None
    if array.ndim != 2 or array.shape[0] != rows or array.shape[1] == 0 or dims not in (None, array.shape[1]):
        expected = f"({rows}, {dims})" if dims else f"({rows}, D)"
        raise InputError(f"posterior_function: expected {name} of shape {expected}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"posterior_function: {name} holds NaN or infinite values")
    return array


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"elbo_decomposition: {name} must be an integer ≥ {minimum}, got {value!r}")


def _passes(num_observations: int, per_pass: int, count: int, random_state) -> np.ndarray:
    """``count`` indices: the first ``per_pass`` of each of successive random permutations."""
    num_passes = -(-count // per_pass)
    order = np.argsort(random_state.random_sample((num_passes, num_observations)), axis=1)
    return order[:, :per_pass].reshape(-1)[:count]


def _exact_log_densities(z, mean, log_std):
    """log q(z_s) ``(S,)`` and log q(z_sj) ``(S, D)`` under the mixture of all N posteriors."""
    num, dims = mean.shape
    # dimension-major, so that every reduction runs over contiguous components
    z_t, mean_t = np.ascontiguousarray(z.T), np.ascontiguousarray(mean.T)
    inv_std_t, log_norm_t = np.exp(-log_std.T), np.ascontiguousarray(-log_std.T - _HALF_LOG_2PI)
    columns = min(num, _COMPONENTS)
    rows = max(1, _BLOCK // (columns * dims))
    log_joint, log_marginals = np.empty(len(z)), np.empty((dims, len(z)))
    for start in range(0, len(z), rows):
        block = z_t[:, start : start + rows, None]
        joint = (np.full(block.shape[1], -np.inf), np.zeros(block.shape[1]))
        marginals = (np.full(block.shape[:2], -np.inf), np.zeros(block.shape[:2]))
        for first in range(0, num, columns):
            part = slice(first, first + columns)
            values = block - mean_t[:, None, part]
            values *= inv_std_t[:, None, part]
            values *= values
            values *= -0.5
            values += log_norm_t[:, None, part]
            joint_values = values.sum(axis=0)
            _accumulate(values, *marginals)
            _accumulate(joint_values, *joint)
        log_joint[start : start + rows] = joint[0] + np.log(joint[1])
        log_marginals[:, start : start + rows] = marginals[0] + np.log(marginals[1])
    return log_joint - np.log(num), log_marginals.T - np.log(num)


def _accumulate(values: np.ndarray, peak: np.ndarray, total: np.ndarray) -> None:
    """Streaming log-sum-exp over the last axis of ``values`` (overwritten): ``peak + log(total)``."""
    new_peak = np.maximum(peak, values.max(axis=-1))
    total *= np.exp(peak - new_peak)
    values -= new_peak[..., None]
    np.exp(values, out=values)
    total += values.sum(axis=-1)
    peak[...] = new_peak


def _logsumexp(values: np.ndarray) -> np.ndarray:
    """log-sum-exp over the last axis of ``values`` (overwritten)."""
    peak, total = np.full(values.shape[:-1], -np.inf), np.zeros(values.shape[:-1])
    _accumulate(values, peak, total)
    return peak + np.log(total)


def _minibatch_log_densities(z, mean, log_std, batches, log_weights):
    """Weighted log q(z) ``(K, B)`` and log q(z_j) ``(K, B, D)`` of samples ``z`` ``(K, B, D)``,
    each against the posteriors of its own batch (``batches``: indices ``(K, B)``)."""
    num_batches, size, dims = z.shape
    rows = min(size, max(1, _BLOCK // (size * dims)))
    group = max(1, _BLOCK // (rows * size * dims))
    z_t = np.ascontiguousarray(np.moveaxis(z, 2, 0))[..., None]
    mean_t, inv_std_t, log_norm_t = mean.T, np.exp(-log_std.T), -log_std.T - _HALF_LOG_2PI
    log_joint, log_marginals = np.empty((num_batches, size)), np.empty((dims, num_batches, size))
    for first in range(0, num_batches, group):
        members = batches[first : first + group]
        # (D, g, 1, B): the posteriors of each batch, dimension-major
        batch_mean, inv_std, log_norm = (a[:, members][:, :, None] for a in (mean_t, inv_std_t, log_norm_t))
        for row in range(0, size, rows):
            part = (slice(first, first + group), slice(row, row + rows))
            weights = log_weights[row : row + rows]
            values = z_t[(slice(None), *part)] - batch_mean
            values *= inv_std
            values *= values
            values *= -0.5
            values += log_norm
            log_joint[part] = _logsumexp(values.sum(axis=0) + weights)
            values += weights
            log_marginals[(slice(None), *part)] = _logsumexp(values)
    return log_joint, np.moveaxis(log_marginals, 0, 2)


@metric(
    "elbo_decomposition",
    function=elbo_decomposition,
    standard_normal_prior=True,
    headline=("index_code_mi_mss", "total_correlation_mss", "dimwise_kl_mss"),
    needs=(POSTERIOR,),
)
def _evaluate(
    inputs: Inputs, random_state: np.random.RandomState, *, estimators=("mws", "mss"), num_samples=10_000,
    batch_size=64,
) -> dict:
    """The decomposition over every observation of ``inputs.data`` (which must offer
    ``__len__`` and ``observations(indices)``) by each of ``estimators``, each from the
    same random state; the scores are suffixed ``_<estimator>``.

    Settings: ``estimators``, each gives its own scores (``"exact"`` takes about 10 minutes
    on dSprites); ``num_samples``, (n, z) pairs; ``batch_size``, B of the minibatch estimators.
    """
    data, state = inputs.data, random_state.get_state()
    options = {"num_samples": num_samples, "batch_size": batch_size}
    result = {}
    for estimator in estimators:
        generator = np.random.RandomState()
        generator.set_state(state)
        values = elbo_decomposition(
            lambda indices: inputs.posterior_function(data.observations(indices)), len(data), generator,
            estimator=estimator, **options,
        )
        result.update({f"{key}_{estimator}": value for key, value in values.items() if key != "settings"})
    return {**result, "settings": {**options, "estimators": list(estimators)}}


ELBO_DECOMPOSITION = _evaluate.metric
