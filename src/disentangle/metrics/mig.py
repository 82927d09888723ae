"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in
Variational Autoencoders"; dlib's ``mig.py``).

MIG = mean over factors v_k of (I(z_a; v_k) - I(z_b; v_k)) / H(v_k), where z_a and
z_b are the two codes sharing most information with v_k. Two estimators:

``"dlib"`` (default)
    ``num_train`` points (drawn 16 at a time), each code dimension cut into
    ``num_bins`` equal-width bins over its range, discrete mutual information with
    every factor, H(v_k) the discrete entropy of the sampled factor. Invariant to
    permuting code dimensions and to positive affine maps of each one. With 20 bins a
    factor with more than 20 values is never fully resolved: a code equal to a uniform
    40-valued factor scores log(20)/log(40) = 0.81, not 1, for that factor.

``"chen"``
    The paper's estimator, on the Gaussian posteriors ``q(z|x) = N(mean, exp(logvar))``
    returned by ``posterior_function`` (observations -> ``(mean, logvar)``, each
    ``(N, D)``). Over the whole dataset (every factor combination once, uniformly
    weighted), one z per image is drawn from its posterior and

        I(z_j; v_k) = sum_v p(v) E_{q(z_j | v_k = v)}[log q(z_j | v_k = v) - log q(z_j)],

    with q(z_j) = mean_n q(z_j | x_n) and q(z_j | v_k = v) the same mean over the
    images with v_k = v; clamped at 0 and divided by H(v_k) = log |V_k|. The shape
    factor is excluded by default, as in the paper. The dataset is the grid of all
    factor combinations (what a dlib or disentangle factor dataset holds), its images
    made by ``sample_observations_from_factors``. Chen evaluates every mixture over
    the whole dataset (about 1e11 density evaluations for dSprites). Here the samples
    are the whole grid when it has at most ``num_samples`` combinations, and the
    mixtures are exact when it has at most ``num_components``; otherwise each set is a
    stratified sample of the grid (a Latin hypercube: each value of each factor
    appears equally often, up to one), so that every conditional mixture
    q(z | v_k = v) has ``num_components / |V_k|`` components and every value v the
    same number of samples, and the sample's own image is kept as an exact term of
    each mixture, which removes most of the downward bias of a subsampled log-density:

        q(z_s) ~ (1/N) q(z_s | x_s) + (1 - 1/N) mean_{m in C} q(z_s | x_m),

    N the number of images in the mixture (the dataset, or those with v_k = v) and C
    its sampled components. The defaults cost about 1e9 density evaluations (float32).
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import POSTERIOR, metric
from disentangle.metrics.estimators.mutual_information import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
)
from disentangle.metrics.sampling import ENCODE_BATCH, check_codes, excluded_factors, factor_sizes, sample_points

#: density evaluations per chunk of the Chen estimator (bounds its memory)
_CHUNK = 2_000_000


@metric("mig", headline=("discrete_mig", "mig"), uses=(POSTERIOR,), default=True)
def mig(
    ground_truth_data,
    representation_function,
    random_state,
    posterior_function=None,
    *,
    estimator="dlib",
    num_train=10_000,
    batch_size=16,
    num_bins=20,
    num_samples=10_000,
    num_components=10_000,
    exclude_factors=None,
) -> dict:
    """MIG: ``{"discrete_mig", "settings"}`` (dlib) or ``{"mig", "settings"}`` (Chen), in [0, 1].

    Settings (``preset="fast"`` changes none):

    - ``estimator``: ``"dlib"`` or ``"chen"`` (see the module docstring);
    - ``num_train``, ``batch_size``: dlib: sampled points, drawn ``batch_size`` at a time;
    - ``num_bins``: dlib: equal-width bins per code;
    - ``num_samples``: Chen: z samples;
    - ``num_components``: Chen: mixture components;
    - ``exclude_factors``: Chen: factor indices left out; ``None``: the shape factor.

    ``posterior_function`` (observations -> ``(mean, logvar)``) is used by the Chen estimator only.
    """
    if estimator == "dlib":
        [(codes, factors)] = sample_points(
            "mig", ground_truth_data, representation_function, random_state, [num_train], batch_size
        )
        mutual_info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
        score = np.mean(_gaps(mutual_info) / discrete_entropy(factors))
        return {"discrete_mig": float(score)}
    if estimator == "chen":
        if posterior_function is None:
            raise InputError(
                "mig: estimator 'chen' needs posterior_function (observations -> (mean, logvar))"
            )
        excluded = excluded_factors(ground_truth_data, exclude_factors, exclude_shape=True)
        mutual_info, sizes = _chen_mutual_info(
            ground_truth_data, posterior_function, random_state, num_samples, num_components
        )
        kept = [k for k in range(len(sizes)) if k not in excluded]
        if not kept:
            raise InputError("mig: every factor is excluded")
        score = np.mean(_gaps(mutual_info[:, kept]) / np.log(sizes[kept]))
        return {"mig": float(score), "settings": {"exclude_factors": excluded}}
    raise InputError(f"mig: estimator must be 'dlib' or 'chen', got {estimator!r}")


def _gaps(mutual_info: np.ndarray) -> np.ndarray:
    """Per factor, the largest minus the second largest entry of ``(num_codes, num_factors)``."""
    if mutual_info.shape[0] < 2:
        raise InputError(f"mig: expected at least 2 code dimensions, got {mutual_info.shape[0]}")
    ordered = np.sort(mutual_info, axis=0)
    return ordered[-1] - ordered[-2]


def _grid_or_hypercube(sizes: np.ndarray, num: int, random_state: np.random.RandomState):
    """Every factor combination if there are at most ``num``, else a Latin hypercube of ``num``.

    Returns ``(factors (M, K), whole)``; in a hypercube each column holds each value
    ``num // size`` or one more times, in random order.
    """
    if np.prod(sizes.astype(np.float64)) <= num:
        grid = np.unravel_index(np.arange(int(np.prod(sizes))), sizes)
        return np.stack(grid, axis=1).astype(np.int64), True
    return np.stack([random_state.permutation(np.arange(num) % size) for size in sizes], axis=1), False


def _posteriors(data, posterior_function, factors, random_state):
    """``(mean, std)`` float64 ``(M, D)`` of the posteriors of the observations of ``factors``."""
    means, stds = [], []
    for start in range(0, len(factors), ENCODE_BATCH):
        batch = factors[start : start + ENCODE_BATCH]
        output = posterior_function(data.sample_observations_from_factors(batch, random_state))
        if not isinstance(output, (tuple, list)) or len(output) != 2:
            raise InputError("posterior_function: expected a tuple (mean, logvar) of arrays (N, D)")
        num_codes = means[0].shape[1] if means else None
        means.append(check_codes(output[0], len(batch), num_codes))
        stds.append(np.exp(0.5 * check_codes(output[1], len(batch), means[-1].shape[1])))
    return np.concatenate(means), np.concatenate(stds)


def _log_mixture(z, own, mean, std, whole_size, exact):
    """log q(z_s, j) under the mixture of components ``(mean, std)`` ``(M, D)``, for z ``(S, D)``.

    ``exact``: the components are the whole mixture. Otherwise they are a sample of it,
    and ``own`` ``(S, D)`` (the log-density under each sample's own image) enters with
    weight ``1 / whole_size``.
    """
    out = np.empty(z.shape)
    step = max(1, _CHUNK // max(1, mean.size))
    # float32 halves the memory traffic; log-densities keep ~1e-7 relative precision.
    z32, mean32, inv_std32 = z.astype(np.float32), mean.astype(np.float32), (1 / std).astype(np.float32)
    log_norm = (-np.log(std) - 0.5 * np.log(2 * np.pi)).astype(np.float32)
    for start in range(0, len(z), step):
        log_density = z32[start : start + step, None, :] - mean32[None]
        log_density *= inv_std32[None]
        log_density *= log_density
        log_density *= -0.5
        log_density += log_norm[None]
        peak = log_density.max(axis=1, keepdims=True)
        log_density -= peak
        np.exp(log_density, out=log_density)
        out[start : start + step] = peak[:, 0] + np.log(log_density.sum(axis=1)) - np.log(len(mean))
    if exact:
        return out
    return np.logaddexp(own - np.log(whole_size), out + np.log1p(-1.0 / whole_size))


def _chen_mutual_info(data, posterior_function, random_state, num_samples, num_components):
    """``(I(z_j; v_k) (num_codes, num_factors) in nats, factor sizes)`` by the Chen estimator
    from ``num_samples`` z samples and mixtures of ``num_components`` posteriors."""
    sizes = factor_sizes(data)
    num_images = float(np.prod(sizes.astype(np.float64)))
    for name, count in (("num_samples", num_samples), ("num_components", num_components)):
        if count < sizes.max():
            raise InputError(f"mig: {name} must be at least the largest factor size {sizes.max()}, got {count}")
    sample_factors, _ = _grid_or_hypercube(sizes, num_samples, random_state)
    component_factors, exact = _grid_or_hypercube(sizes, num_components, random_state)
    sample_mean, sample_std = _posteriors(data, posterior_function, sample_factors, random_state)
    z = sample_mean + sample_std * random_state.standard_normal(sample_mean.shape)
    own = -np.log(sample_std) - 0.5 * np.log(2 * np.pi) - 0.5 * ((z - sample_mean) / sample_std) ** 2
    mean, std = _posteriors(data, posterior_function, component_factors, random_state)
    if mean.shape[1] != z.shape[1]:
        raise InputError(
            f"posterior_function: expected {z.shape[1]} codes per row as before, got {mean.shape[1]}"
        )

    log_marginal = _log_mixture(z, own, mean, std, num_images, exact)
    mutual_info = np.zeros((z.shape[1], len(sizes)))
    for k, size in enumerate(sizes):
        for value in range(size):
            samples = sample_factors[:, k] == value
            components = component_factors[:, k] == value
            log_conditional = _log_mixture(
                z[samples], own[samples], mean[components], std[components], num_images / size, exact
            )
            mutual_info[:, k] += np.mean(log_conditional - log_marginal[samples], axis=0) / size
    return np.clip(mutual_info, 0.0, None), sizes


MIG = mig.metric
