"""Unsupervised Disentanglement Ranking (Duan et al. 2020, "Unsupervised Model Selection
for Variational Disentangled Representation Learning"; dlib's ``udr/metrics/udr.py``).

UDR scores a *set* of models of the same kind (seeds, hyperparameters) by how much
they agree: disentangled models are alike up to a permutation and sign flips of their
latents, entangled ones each differ in their own way. Every model encodes the same
``num_data_points`` observations (factors drawn ``batch_size`` at a time, as dlib draws
them); each representation function returns ``(codes (N, D), kl_per_dim (D,))``, the
posterior means and the KL of q(z|x) from N(0, I) per latent averaged over the batch
(nats), as dlib's UDR evaluation builds it.

1. Each model's codes are standardised (zero mean, unit variance; a constant latent is
   only centred) and its latents with ``kl_per_dim <= kl_filter_threshold`` set to 0.
2. For each ordered pair (i, j), i != j, a similarity ``R (D, D)``, rows model i's
   latents, columns model j's: ``"lasso"`` (the paper's UDR_L): |coefficients| of
   scikit-learn's ``Lasso(alpha=lasso_alpha)`` regressing model j's codes on model i's;
   ``"spearman"`` (UDR_S): |Spearman correlation| of every pair of latents.
3. With ``filter_low_kl``, only the rows and columns of active latents (KL above the
   threshold) are kept. The pairwise score is the mean of the "relative strength"
   over columns and over rows, ``(mean_b max_a R_ab^2 / sum_a R_ab + mean_a max_b R_ab^2
   / sum_b R_ab) / 2``, a 0/0 counting as 0: 1 for a permutation matrix, lower when a
   latent of one model spreads over several of the other.
4. ``model_scores[i]`` is the median of ``pairwise_disentanglement_scores[j, i]`` over
   j != i (dlib takes model i's column: the pairs where i is regressed on).

Known values: Spearman gives 1 for identical models, and for a model and a permuted,
sign-flipped or monotonically rescaled copy of it; Lasso's shrinkage gives 1 - alpha
for them when the latents are uncorrelated (each coefficient is 1 - alpha), so UDR_L is
at most about 0.9 with dlib's alpha. Spearman's scores are symmetric in (i, j), Lasso's
are not. Both are invariant to permuting the set of models.

Where we depart from dlib: dlib zeroes the latents with KL <= 0.01 whatever
``kl_filter_threshold`` says (the two agree at the default); here the threshold does
both. dlib's Spearman correlation with a zeroed latent is NaN, which (without
``filter_low_kl``) zeroes the relative strength of every latent of the other model;
here it is 0. A pair with no active latent on one side scores 0 (dlib fails). dlib
nests each pairwise score in a list of one, ``(M, M, 1)``; here they are ``(M, M)``.
The settings are those of dlib's UDR configuration (1,000 points in batches of 10).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats
from sklearn.linear_model import Lasso

from disentangle.errors import InputError
from disentangle.metrics.descriptor import POSTERIOR, metric
from disentangle.metrics.sampling import ENCODE_BATCH, check_codes, check_factors, draw_factors, factor_sizes

CORRELATION_MATRICES = ("lasso", "spearman")


@metric("udr", headline=("model_scores",), needs=(POSTERIOR,))
def udr(
    ground_truth_data,
    representation_functions: Sequence[Callable],
    random_state: np.random.RandomState,
    *,
    num_data_points=1_000,
    batch_size=10,
    correlation_matrix="lasso",
    lasso_alpha=0.1,
    filter_low_kl=True,
    include_raw_correlations=True,
    kl_filter_threshold=0.01,
) -> dict:
    """UDR of M >= 2 models: ``{"model_scores" (M,), "pairwise_disentanglement_scores" (M, M),
    "raw_correlations" (M, M, D, D) (with ``include_raw_correlations``), "kl_per_dim" (M, D),
    "settings"}``, as nested lists; scores in [0, 1].

    ``representation_functions``: observations -> ``(codes (N, D), kl_per_dim (D,))``, the
    same D for every model. Settings (``preset="fast"`` changes none; see the module docstring):

    - ``num_data_points``: observations every model encodes, a multiple of ``batch_size``;
    - ``batch_size``: factors drawn at a time;
    - ``correlation_matrix``: ``"lasso"`` or ``"spearman"``;
    - ``lasso_alpha``: the Lasso's L1 weight (dlib's, fixed there);
    - ``filter_low_kl``: score only latents with KL above the threshold;
    - ``include_raw_correlations``: return the (M, M, D, D) similarity matrices;
    - ``kl_filter_threshold``: nats; latents at or below are zeroed (and dropped when filtering).
    """
    _check(num_data_points, batch_size, correlation_matrix)
    functions = list(representation_functions)
    if len(functions) < 2:
        raise InputError(f"udr: expected at least 2 representation functions (models to compare), got {len(functions)}")
    codes, kl_per_dim = sample_codes_and_kl(ground_truth_data, functions, random_state, num_data_points, batch_size)
    pairwise, raw = pairwise_scores(
        codes, kl_per_dim, correlation_matrix, lasso_alpha, filter_low_kl, kl_filter_threshold
    )
    result = {
        "model_scores": model_scores(pairwise).tolist(),
        "pairwise_disentanglement_scores": pairwise.tolist(),
    }
    if include_raw_correlations:
        result["raw_correlations"] = raw.tolist()
    return {**result, "kl_per_dim": kl_per_dim.tolist()}


#: not in ``METRICS``: UDR scores several representations at once (``disentangle udr``),
#: while ``evaluate`` scores one run; the descriptor holds its settings and checks them.
UDR = udr.metric


def resolve_settings(preset: str, overrides: dict) -> dict:
    """``UDR.resolve(preset, overrides)``, also checking the correlation matrix and that
    ``num_data_points`` is a multiple of ``batch_size`` (``InputError`` otherwise)."""
    settings = UDR.resolve(preset, overrides)
    _check(settings["num_data_points"], settings["batch_size"], settings["correlation_matrix"])
    return settings


def _check(num_data_points: int, batch_size: int, correlation_matrix: str) -> None:
    if correlation_matrix not in CORRELATION_MATRICES:
        raise InputError(
            f"udr: correlation_matrix must be one of {', '.join(CORRELATION_MATRICES)}, got {correlation_matrix!r}"
        )
    if num_data_points % batch_size:
        raise InputError(
            f"udr: num_data_points ({num_data_points}) must be a multiple of batch_size ({batch_size})"
        )


def sample_codes_and_kl(
    ground_truth_data, functions, random_state, num_points: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(codes (M, N, D), kl_per_dim (M, D))`` of every model on the same N = ``num_points``
    observations.

    Factors are drawn ``batch_size`` at a time as dlib draws them, then turned into
    observations and encoded in large batches; the KL of each batch is weighted by its size.
    """
    sizes = factor_sizes(ground_truth_data)
    factors = check_factors(
        np.concatenate([draw_factors(ground_truth_data, batch_size, random_state) for _ in range(num_points // batch_size)]),
        sizes,
    )
    codes = [[] for _ in functions]
    kl_sums = [0.0 for _ in functions]
    num_codes = None
    for start in range(0, num_points, ENCODE_BATCH):
        batch = factors[start : start + ENCODE_BATCH]
        observations = ground_truth_data.sample_observations_from_factors(batch, random_state)
        for m, function in enumerate(functions):
            batch_codes, batch_kl = _check_output(function(observations), len(batch), num_codes, m)
            num_codes = batch_codes.shape[1]
            codes[m].append(batch_codes)
            kl_sums[m] = kl_sums[m] + batch_kl * len(batch)
    return np.stack([np.concatenate(c) for c in codes]), np.stack(kl_sums) / num_points


def _check_output(output, num_rows: int, num_codes: int | None, model: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise InputError(
            f"representation_functions[{model}]: expected a tuple (codes (N, D), kl_per_dim (D,)), "
            f"got {type(output).__name__}"
        )
    codes = check_codes(output[0], num_rows, num_codes)
    kl = np.asarray(output[1], dtype=np.float64)
    if kl.shape != (codes.shape[1],) or not np.all(np.isfinite(kl)):
        raise InputError(
            f"representation_functions[{model}]: expected finite kl_per_dim of shape ({codes.shape[1]},), "
            f"got shape {kl.shape}"
        )
    return codes, kl


def standardised_active_codes(codes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Codes ``(N, D)`` with zero mean and unit variance (a constant latent only centred),
    the latents not ``active`` ``(D,)`` set to 0."""
    std = codes.std(axis=0)
    return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0) * active


def lasso_correlation(codes_i: np.ndarray, codes_j: np.ndarray, alpha: float) -> np.ndarray:
    """|Lasso coefficients| ``(D_i, D_j)`` of model j's codes regressed on model i's."""
    return np.abs(Lasso(alpha=alpha).fit(codes_i, codes_j).coef_).T


def spearman_correlation(codes_i: np.ndarray, codes_j: np.ndarray) -> np.ndarray:
    """|Spearman correlation| ``(D_i, D_j)`` of every pair of latents; 0 with a constant latent."""
    ranks_i = scipy.stats.rankdata(codes_i, axis=0)
    ranks_j = scipy.stats.rankdata(codes_j, axis=0)
    ranks_i, ranks_j = ranks_i - ranks_i.mean(axis=0), ranks_j - ranks_j.mean(axis=0)
    norms = np.outer(np.linalg.norm(ranks_i, axis=0), np.linalg.norm(ranks_j, axis=0))
    covariance = ranks_i.T @ ranks_j
    return np.abs(np.divide(covariance, norms, out=np.zeros_like(covariance), where=norms > 0))


def relative_strength(matrix: np.ndarray) -> float:
    """Mean over columns and over rows of max^2 / sum, averaged (0/0 counts as 0; 0 when empty)."""
    if matrix.size == 0:
        return 0.0

    def strength(axis):
        peak, total = matrix.max(axis=axis), matrix.sum(axis=axis)
        return np.mean(np.divide(peak**2, total, out=np.zeros_like(total), where=total > 0))

    return float((strength(0) + strength(1)) / 2)


def pairwise_scores(
    codes: np.ndarray, kl_per_dim: np.ndarray, correlation_matrix: str, lasso_alpha: float, filter_low_kl: bool,
    kl_filter_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``(pairwise scores (M, M), raw similarity matrices (M, M, D, D))`` for codes ``(M, N, D)``
    and ``kl_per_dim`` ``(M, D)`` (the settings as ``udr``'s); the diagonals are 0."""
    num_models, _, num_codes = codes.shape
    active = kl_per_dim > kl_filter_threshold
    standardised = [standardised_active_codes(codes[m], active[m]) for m in range(num_models)]
    pairwise = np.zeros((num_models, num_models))
    raw = np.zeros((num_models, num_models, num_codes, num_codes))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if correlation_matrix == "lasso":
                raw[i, j] = lasso_correlation(standardised[i], standardised[j], lasso_alpha)
            else:
                raw[i, j] = spearman_correlation(standardised[i], standardised[j])
            kept = raw[i, j][active[i]][:, active[j]] if filter_low_kl else raw[i, j]
            pairwise[i, j] = relative_strength(kept)
    return pairwise, raw


def model_scores(pairwise: np.ndarray) -> np.ndarray:
    """Per model i, the median over j != i of ``pairwise[j, i]`` ``(M,)``."""
    return np.array([np.median(np.delete(pairwise[:, i], i)) for i in range(len(pairwise))])

