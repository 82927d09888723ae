import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import Lasso

from disentangle.errors import InputError
from disentangle.metrics import udr
from disentangle.metrics.udr import relative_strength, spearman_correlation

SIZES = [4, 5, 6, 7]
ACTIVE = np.ones(4)


def model(transform=lambda codes: codes, kl=ACTIVE):
    """A representation function: a fixed nonlinear code of the factors, then ``transform``;
    ``kl_per_dim`` is ``kl`` whatever the batch."""

    def representation(x):
        codes = np.tanh((x - np.array([1.5, 2.0, 2.5, 3.0])) / 2.0) + 0.05 * np.sin(7.0 * x[:, ::-1])
        return transform(codes), np.asarray(kl, dtype=np.float64)

    return representation


PERMUTE_FLIP = lambda codes: -codes[:, [2, 0, 3, 1]] * np.array([1.0, -1.0, 2.0, 0.5])  # noqa: E731
ANGLE = np.pi / 4
ROTATION = np.array([[np.cos(ANGLE), -np.sin(ANGLE)], [np.sin(ANGLE), np.cos(ANGLE)]])
ROTATE = lambda codes: np.concatenate([codes[:, :2] @ ROTATION, codes[:, 2:]], axis=1)  # noqa: E731


@pytest.fixture
def score(toy_data):
    """``score(functions, **settings)``: UDR of the functions on toy factors of ``SIZES``, seed 0."""
    return lambda functions, **options: udr(toy_data(SIZES), functions, np.random.RandomState(0), **options)


#: a full 5 x 5 x 4 grid of three factors: monotone codes of it are exactly uncorrelated (in ranks too)
GRID = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0), np.arange(4.0), indexing="ij"), axis=-1).reshape(-1, 3)
GRID_CODES = np.stack([GRID[:, 0], GRID[:, 1] ** 3, -np.exp(GRID[:, 2])], axis=1)
NOISE = np.sin(1e3 * np.arange(len(GRID)))[:, None]


def fixed(codes, kl=(1.0, 1.0, 1.0)):
    """A representation function that returns ``codes`` (one row per point of a single call) and ``kl``."""
    return lambda x: (codes, np.asarray(kl, dtype=np.float64))


@pytest.fixture
def grid_score(toy_data):
    """``grid_score(functions, **settings)``: UDR of fixed-code functions on the grid's 100 points."""
    return lambda functions, **options: udr(
        toy_data([2, 2]), functions, np.random.RandomState(0), num_data_points=len(GRID), **options
    )


def off_diagonal(result):
    pairwise = np.array(result["pairwise_disentanglement_scores"])
    return pairwise[~np.eye(len(pairwise), dtype=bool)]


def test_spearman_gives_one_for_identical_and_for_permuted_sign_flipped_rescaled_copies(grid_score):
    copy = -GRID_CODES[:, [2, 0, 1]] * np.array([1.0, -3.0, 0.5])
    result = grid_score([fixed(GRID_CODES), fixed(GRID_CODES), fixed(copy)], correlation_matrix="spearman")
    np.testing.assert_allclose(off_diagonal(result), 1.0, atol=1e-12)
    np.testing.assert_allclose(result["model_scores"], 1.0, atol=1e-12)


def test_lasso_gives_one_minus_alpha_for_identical_and_permuted_sign_flipped_copies(grid_score):
    # Uncorrelated standardised latents: each Lasso coefficient is the soft threshold 1 - alpha.
    copy = -GRID_CODES[:, [2, 0, 1]] * np.array([1.0, -3.0, 0.5])
    for alpha in (0.1, 0.3):
        result = grid_score([fixed(GRID_CODES), fixed(GRID_CODES), fixed(copy)], lasso_alpha=alpha)
        np.testing.assert_allclose(off_diagonal(result), 1.0 - alpha, atol=1e-4)
        raw = np.array(result["raw_correlations"])
        np.testing.assert_allclose(raw[0, 1], (1.0 - alpha) * np.eye(3), atol=1e-4)


def test_nearly_uncorrelated_latents_of_sampled_data_score_close_to_one(score):
    result = score([model(), model(PERMUTE_FLIP)], correlation_matrix="spearman")
    assert 0.85 < result["model_scores"][0] < 1.0
    assert result["model_scores"][0] == pytest.approx(result["model_scores"][1], abs=1e-12)


@pytest.mark.parametrize("correlation_matrix", ["lasso", "spearman"])
def test_a_rotated_copy_scores_lower_than_an_identical_one(grid_score, correlation_matrix):
    standardised = (GRID_CODES - GRID_CODES.mean(axis=0)) / GRID_CODES.std(axis=0)
    rotated = np.concatenate([standardised[:, :2] @ ROTATION, standardised[:, 2:]], axis=1)
    identical = grid_score([fixed(GRID_CODES), fixed(GRID_CODES)], correlation_matrix=correlation_matrix)
    mixed = grid_score([fixed(GRID_CODES), fixed(rotated)], correlation_matrix=correlation_matrix)
    assert off_diagonal(mixed).max() < off_diagonal(identical).min() - 0.1


def test_latents_at_or_below_the_kl_threshold_are_ignored(grid_score):
    # A fourth latent of noise, unused by both models (KL 0.001, 0.01) or used (KL 0.5).
    with_noise = np.concatenate([GRID_CODES, NOISE], axis=1)
    other = np.concatenate([NOISE**3 + GRID_CODES[:, :1], GRID_CODES[:, [2, 0, 1]]], axis=1)
    dead = grid_score([fixed(with_noise, [1, 1, 1, 0.001]), fixed(other, [0.01, 1, 1, 1])], correlation_matrix="spearman")
    np.testing.assert_allclose(off_diagonal(dead), 1.0, atol=1e-12)
    alive = grid_score([fixed(with_noise, [1, 1, 1, 0.5]), fixed(other, [0.5, 1, 1, 1])], correlation_matrix="spearman")
    assert off_diagonal(alive).max() < 0.95
    # Without filtering, the zeroed latents stay as empty rows and columns, which count as 0.
    kept = grid_score(
        [fixed(with_noise, [1, 1, 1, 0.001]), fixed(other, [0.01, 1, 1, 1])], correlation_matrix="spearman",
        filter_low_kl=False,
    )
    np.testing.assert_allclose(off_diagonal(kept), 0.75, atol=1e-12)


def transcribed_dlib_udr(codes, kl, correlation_matrix, alpha=0.1, threshold=0.01):
    """dlib's arithmetic on fixed codes (M, N, D) and KL (M, D), written out independently."""
    num_models, _, dim = codes.shape
    reps, masks = [], []
    for m in range(num_models):
        mean, std = codes[m].mean(axis=0), codes[m].std(axis=0)
        std[std == 0] = 1.0
        reps.append((codes[m] - mean) / std * np.greater(kl[m], 0.01))
        masks.append(kl[m] > threshold)
    scores = np.zeros((num_models, num_models))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if correlation_matrix == "lasso":
                matrix = np.abs(Lasso(alpha=alpha).fit(reps[i], reps[j]).coef_).T
            else:
                matrix = np.array(
                    [[abs(scipy.stats.spearmanr(reps[i][:, a], reps[j][:, b])[0]) for b in range(dim)]
                     for a in range(dim)]
                )
            matrix = matrix[masks[i]][:, masks[j]]
            x = np.nanmean(np.nan_to_num(np.max(matrix, axis=0) ** 2 / np.sum(matrix, axis=0)))
            y = np.nanmean(np.nan_to_num(np.max(matrix, axis=1) ** 2 / np.sum(matrix, axis=1)))
            scores[i, j] = (x + y) / 2
    return scores, [np.median(np.delete(scores[:, i], i)) for i in range(num_models)]


@pytest.mark.parametrize("correlation_matrix", ["lasso", "spearman"])
def test_matches_dlibs_arithmetic_transcribed_on_fixed_inputs(toy_data, correlation_matrix):
    rng = np.random.RandomState(3)
    codes = rng.randn(4, 300, 5)
    codes[1] = codes[0] @ rng.randn(5, 5) + 0.5 * codes[1]
    codes[2, :, 0] = codes[0, :, 1] ** 3
    kl = np.abs(rng.randn(4, 5))
    kl[1, 3], kl[2, 0], kl[3, 4] = 0.002, 0.005, 0.0

    def fixed(m):
        # The toy data hands out factors; row k of the fixed codes belongs to the k-th call's point.
        return lambda x: (codes[m], kl[m])

    data = toy_data([2, 2])
    result = udr(data, [fixed(m) for m in range(4)], np.random.RandomState(0), num_data_points=300,
                 batch_size=10, correlation_matrix=correlation_matrix)
    expected_pairwise, expected_models = transcribed_dlib_udr(codes, kl, correlation_matrix)
    np.testing.assert_allclose(result["pairwise_disentanglement_scores"], expected_pairwise, atol=1e-9)
    np.testing.assert_allclose(result["model_scores"], expected_models, atol=1e-9)
    np.testing.assert_allclose(result["kl_per_dim"], kl, atol=1e-12)
    assert np.array(result["raw_correlations"]).shape == (4, 4, 5, 5)


def test_spearman_scores_are_symmetric_and_follow_a_permutation_of_the_models(score):
    functions = [model(), model(ROTATE), model(PERMUTE_FLIP), model(lambda c: c**3 + c[:, ::-1])]
    result = score(functions, correlation_matrix="spearman", include_raw_correlations=False)
    pairwise = np.array(result["pairwise_disentanglement_scores"])
    np.testing.assert_allclose(pairwise, pairwise.T, atol=1e-12)
    order = [2, 0, 3, 1]
    shuffled = score([functions[k] for k in order], correlation_matrix="spearman", include_raw_correlations=False)
    np.testing.assert_allclose(np.array(shuffled["pairwise_disentanglement_scores"]), pairwise[np.ix_(order, order)],
                               atol=1e-12)
    np.testing.assert_allclose(shuffled["model_scores"], np.array(result["model_scores"])[order], atol=1e-12)
    assert "raw_correlations" not in result


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=st.floats(0, 10)))
def test_relative_strength_is_in_range_and_symmetric_under_transposition(matrix):
    value = relative_strength(matrix)
    assert value == pytest.approx(relative_strength(matrix.T))
    assert 0.0 <= value <= matrix.max() + 1e-12
    permuted = matrix[::-1, ::-1]
    assert relative_strength(permuted) == pytest.approx(value)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_spearman_matrix_equals_scipy_pair_by_pair(seed):
    rng = np.random.RandomState(seed)
    a, b = rng.randn(40, 3), rng.randn(40, 2)
    a[:, 1] = np.round(a[:, 1])  # ties
    b[:, 0] = a[:, 0] ** 3
    expected = [[abs(scipy.stats.spearmanr(a[:, i], b[:, j])[0]) for j in range(2)] for i in range(3)]
    np.testing.assert_allclose(spearman_correlation(a, b), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("functions", "options", "message"),
    [
        (1, {}, "at least 2 representation functions"),
        (2, {"num_data_points": 15}, "multiple of batch_size"),
        (2, {"correlation_matrix": "pearson"}, "correlation_matrix must be one of"),
        (2, {"kl_filter_threshold": -1.0}, "non-negative number"),
    ],
)
def test_bad_settings_raise_input_error(score, functions, options, message):
    with pytest.raises(InputError, match=message):
        score([model()] * functions, **options)


def test_models_of_different_latent_sizes_are_refused(score):
    with pytest.raises(InputError, match="expected 4 codes per row as before"):
        score([model(), model(lambda c: c[:, :3], ACTIVE[:3])])


def test_a_function_that_returns_only_codes_is_refused(score):
    with pytest.raises(InputError, match=r"representation_functions\[0\]: expected a tuple"):
        score([lambda x: x, model()])
