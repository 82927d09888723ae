import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from disentangle.metrics.estimators.dci_regression import nrmse

targets = arrays(np.float64, st.integers(2, 40), elements=st.floats(-100, 100)).filter(lambda t: t.std() > 1e-3)


@settings(max_examples=60, deadline=None)
@given(targets, st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_nrmse_is_zero_for_the_target_one_for_its_mean_and_blind_to_affine_maps(target, scale, shift):
    assert nrmse(target, target) == 0.0
    assert nrmse(np.full_like(target, target.mean()), target) == pytest.approx(1.0)
    noisy = target + np.linspace(-1, 1, len(target))
    assert nrmse(noisy * scale + shift, target * scale + shift) == pytest.approx(nrmse(noisy, target), rel=1e-6)


def test_nrmse_of_a_constant_target_is_zero():
    assert nrmse(np.array([1.0, 2.0]), np.array([3.0, 3.0])) == 0.0
