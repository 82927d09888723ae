import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import gaussian_total_correlation
from disentangle.metrics.total_correlation import gaussian_wasserstein_correlation, total_correlation


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
    result = gaussian_total_correlation(toy_data([3, 4]), noise(4), np.random.RandomState(0), num_train=5000)
    assert result["gaussian_total_correlation"] == pytest.approx(0.0, abs=0.01)
    # 20 x 20 bins: the plug-in estimate of zero MI is biased up by about 19 * 19 / (2N).
    assert result["mutual_info_score"] == pytest.approx(19 * 19 / (2 * 5000), abs=0.01)


def test_rescaling_and_permuting_codes_leave_total_correlation_unchanged(toy_data):
    mixing = np.random.RandomState(3).randn(2, 3)

    def representation(x):
        return x @ mixing + np.random.RandomState(len(x)).randn(len(x), 3)

    data = toy_data([5, 6])
    original = gaussian_total_correlation(data, representation, np.random.RandomState(0), num_train=2000)
    transformed = gaussian_total_correlation(
        data, lambda x: (representation(x) * [2.0, 0.3, 5.0])[:, [2, 0, 1]], np.random.RandomState(0),
        num_train=2000,
    )
    total = original["gaussian_total_correlation"]
    assert transformed["gaussian_total_correlation"] == pytest.approx(total, rel=1e-9)
    assert transformed["mutual_info_score"] == pytest.approx(original["mutual_info_score"], abs=1e-12)


def test_a_single_code_raises_input_error(toy_data):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        gaussian_total_correlation(toy_data([3]), lambda x: x, np.random.RandomState(0), num_train=50)
