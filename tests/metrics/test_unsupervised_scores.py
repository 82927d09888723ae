import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics import mutual_info_score

from disentangle.errors import InputError
from disentangle.metrics import unsupervised_scores
from disentangle.metrics.unsupervised_scores import gaussian_wasserstein_correlation, total_correlation


def test_total_correlation_of_a_diagonal_covariance_is_zero():
    assert total_correlation(np.diag([1.0, 4.0, 0.5])) == pytest.approx(0.0, abs=1e-12)


def test_total_correlation_of_a_correlated_pair_is_minus_half_log_one_minus_rho_squared():
    rho = 0.6
    covariance = np.array([[2.0, rho * np.sqrt(2.0 * 3.0)], [rho * np.sqrt(2.0 * 3.0), 3.0]])
    assert total_correlation(covariance) == pytest.approx(-0.5 * np.log(1 - rho**2), rel=1e-12)


def test_total_correlation_equals_the_kl_divergence_to_the_product_of_marginals():
    rng = np.random.RandomState(0)
    a = rng.randn(4, 4)
    covariance = a @ a.T + np.eye(4)
    diagonal = np.diag(np.diag(covariance))
    log_det_ratio = np.log(np.linalg.det(diagonal) / np.linalg.det(covariance))
    kl = 0.5 * (np.trace(np.linalg.inv(diagonal) @ covariance) - 4 + log_det_ratio)
    assert total_correlation(covariance) == pytest.approx(kl, rel=1e-10)


def test_wasserstein_correlation_of_a_diagonal_covariance_is_zero():
    assert gaussian_wasserstein_correlation(np.diag([1.0, 4.0])) == pytest.approx(0.0, abs=1e-12)


def test_independent_codes_have_near_zero_total_correlation(toy_data, noise):
    result = unsupervised_scores(toy_data([3, 4]), noise(4), np.random.RandomState(0), num_train=5000)
    assert result["gaussian_total_correlation"] == pytest.approx(0.0, abs=0.01)
    # 20 x 20 bins: the plug-in estimate of zero MI is biased up by about 19 * 19 / (2N).
    assert result["mutual_info_score"] == pytest.approx(19 * 19 / (2 * 5000), abs=0.01)


def test_rescaling_and_permuting_codes_leave_total_correlation_unchanged(toy_data):
    mixing = np.random.RandomState(3).randn(2, 3)

    def representation(x):
        return x @ mixing + np.random.RandomState(len(x)).randn(len(x), 3)

    data = toy_data([5, 6])
    original = unsupervised_scores(data, representation, np.random.RandomState(0), num_train=2000)
    transformed = unsupervised_scores(
        data, lambda x: (representation(x) * [2.0, 0.3, 5.0])[:, [2, 0, 1]], np.random.RandomState(0),
        num_train=2000,
    )
    total = original["gaussian_total_correlation"]
    assert transformed["gaussian_total_correlation"] == pytest.approx(total, rel=1e-9)
    assert transformed["mutual_info_score"] == pytest.approx(original["mutual_info_score"], abs=1e-12)


def test_a_single_code_raises_input_error(toy_data):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        unsupervised_scores(toy_data([3]), lambda x: x, np.random.RandomState(0), num_train=50)


def test_wasserstein_correlation_of_a_unit_variance_pair_by_hand():
    # C = [[1, r], [r, 1]] is its own C * diag(C); its square root has eigenvalues
    # sqrt(1 + r) and sqrt(1 - r), so the distance is 2 tr C - 2 (sqrt(1 + r) + sqrt(1 - r)).
    r = 0.6
    expected = 4.0 - 2.0 * (np.sqrt(1.6) + np.sqrt(0.4))
    assert gaussian_wasserstein_correlation(np.array([[1.0, r], [r, 1.0]])) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.205267, abs=1e-6)


def test_independent_gaussian_codes_have_near_zero_wasserstein_correlation(toy_data, noise):
    result = unsupervised_scores(toy_data([3, 4]), noise(3), np.random.RandomState(0), num_train=5000)
    assert result["gaussian_wasserstein_correlation"] == pytest.approx(0.0, abs=0.01)
    assert result["gaussian_wasserstein_correlation_norm"] == pytest.approx(0.0, abs=0.005)


def test_all_four_unsupervised_scores_equal_dlibs_arithmetic(toy_data):
    """dlib's ``unsupervised_metrics`` on the same points, transcribed (its codes are rows)."""
    mixing = np.random.RandomState(5).randn(2, 3)

    def representation(x):
        return x @ mixing + np.sin(9.0 * x @ mixing)

    data = toy_data([4, 5])
    ours = unsupervised_scores(data, representation, np.random.RandomState(2), num_train=400)
    rng, mus = np.random.RandomState(2), []
    for _ in range(0, 400, 16):
        factors = data.sample_factors(16, rng)
        mus.append(representation(data.sample_observations_from_factors(factors, rng)))
    mus = np.vstack(mus).T
    cov = np.cov(mus)
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    root = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
    wasserstein = 2 * np.trace(cov) - 2 * np.trace(root)
    discrete = np.stack([np.digitize(row, np.histogram(row, 20)[1][:-1]) for row in mus])
    mutual_info = np.array([[mutual_info_score(a, b) for b in discrete] for a in discrete])
    np.fill_diagonal(mutual_info, 0)
    assert ours["gaussian_total_correlation"] == pytest.approx(tc, rel=1e-10)
    assert ours["gaussian_wasserstein_correlation"] == pytest.approx(np.real(wasserstein), rel=1e-10)
    assert ours["gaussian_wasserstein_correlation_norm"] == pytest.approx(
        np.real(wasserstein) / np.sum(np.diag(cov)), rel=1e-10
    )
    assert ours["mutual_info_score"] == pytest.approx(np.sum(mutual_info) / (3**2 - 3), rel=1e-10)
