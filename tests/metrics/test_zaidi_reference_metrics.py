"""DCIMIG, JEMMIG and MIG-sup against Zaidi et al.'s reference arithmetic, written out
loop by loop in ``zaidi_reference.py`` (the ``zaidi`` fixture), on the same sampled points."""

import numpy as np
import pytest

from disentangle.metrics import dcimig, jemmig, mig_sup
from disentangle.metrics.sampling import sample_factor_codes


def _mixed_codes(x):
    """A fixed entangled representation: a linear mix of the factors plus noise."""
    mixing = np.random.RandomState(7).randn(x.shape[1], 4)
    return x @ mixing + 0.5 * np.random.RandomState(len(x)).randn(len(x), 4)


@pytest.mark.parametrize("settings", [{}, {"num_bins": 7}, {"factor_bins": 3}])
@pytest.mark.parametrize(
    ("metric", "reference", "key"),
    [(dcimig, "reference_dcimig", "dcimig"), (jemmig, "reference_jemmig", "normalized_jemmig"),
     (mig_sup, "reference_mig_sup", "mig_sup")],
)
def test_equals_zaidi_et_als_reference_arithmetic(toy_data, zaidi, metric, reference, key, settings):
    data = toy_data([3, 5, 8])
    codes, factors = sample_factor_codes(data, _mixed_codes, 2000, np.random.RandomState(0), 16)
    expected = getattr(zaidi, reference)(factors, codes, settings.get("num_bins", 10), settings.get("factor_bins"))
    result = metric(data, _mixed_codes, np.random.RandomState(0), num_train=2000, **settings)
    assert result[key] == pytest.approx(expected, abs=1e-12)
