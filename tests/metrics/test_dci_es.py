from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from disentangle.errors import InputError
from disentangle.metrics import dci_es
from disentangle.metrics.dci_es import baseline_losses, explicitness_from_curve, probe_forests

SMALL = {"num_train": 400, "num_test": 200, "num_trees": 10, "max_depths": (1, 2, 4, 8)}


def test_explicitness_of_hand_made_curves():
    capacities = np.array([1.0, 2.0, 3.0])
    # Reaching the lowest loss at once: 1. Falling linearly from the baseline to 0: 0.
    assert explicitness_from_curve(capacities, [0.2, 0.2, 0.2], 0.5) == 1.0
    assert explicitness_from_curve(capacities, [0.5, 0.25, 0.0], 0.5) == pytest.approx(0.0)
    # Flat at the baseline: 1 above its own lowest loss, -1 above zero.
    assert explicitness_from_curve(capacities, [0.5, 0.5, 0.5], 0.5, "zero") == pytest.approx(-1.0)
    # Made monotone (0.5, 0.1, 0.1); area above 0.1: (0.4 + 0) / 2 = 0.2; Z = 2 * 0.5 / 2.
    assert explicitness_from_curve(capacities, [0.5, 0.1, 0.3], 0.5) == pytest.approx(1 - 0.2 / 0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8), st.floats(0.1, 1.0), st.sampled_from(["curve", "zero"]))
def test_explicitness_lies_in_minus_one_one_and_rewards_lower_early_losses(fractions, baseline, floor):
    losses = np.array(fractions) * baseline
    capacities = np.cumsum(np.arange(1, len(losses) + 1, dtype=float))
    value = explicitness_from_curve(capacities, losses, baseline, floor)
    assert -1 - 1e-12 <= value <= 1 + 1e-12
    if floor == "zero":
        better = losses.copy()
        better[0] = 0.5 * better[0]
        assert explicitness_from_curve(capacities, better, baseline, floor) >= value - 1e-12


def test_factors_as_codes_are_informative_disentangled_and_explicit(toy_data, factors_as_codes):
    result = dci_es(toy_data([2, 3, 4]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["informativeness_test"] == 1.0 and result["size"] == 1.0
    assert result["disentanglement"] > 0.8 and result["completeness"] > 0.8
    # Depth 1 resolves 2 of each factor's values, depth 2 all of them: a steep curve.
    assert result["explicitness"] > 0.75


def test_an_entangled_code_is_less_explicit_than_the_factors(toy_data, factors_as_codes):
    # One code 12 v0 + 4 v1 + v2 holds all three factors: a forest needs depth to unpick
    # the digits, so the curves fall later.
    def packed(x):
        return np.hstack([x[:, :1] * 12 + x[:, 1:2] * 4 + x[:, 2:], np.zeros((len(x), 1))])

    data = toy_data([2, 3, 4])
    entangled = dci_es(data, packed, np.random.RandomState(0), **SMALL)
    assert entangled["informativeness_test"] > 0.85 and entangled["size"] == 1.5
    assert entangled["explicitness"] < dci_es(data, factors_as_codes, np.random.RandomState(0), **SMALL)["explicitness"] - 0.1


def test_noise_codes_are_uninformative_and_not_disentangled(toy_data, noise):
    # Unlimited leaves overfit noise: 400 points spread the importance unevenly by chance.
    result = dci_es(toy_data([3, 4]), noise(4), np.random.RandomState(0), **{**SMALL, "num_train": 2000})
    assert result["informativeness_test"] < 0.45 and result["disentanglement"] < 0.1
    assert result["size"] == 0.5


def test_the_number_of_threads_does_not_change_the_result(toy_data, noise):
    one = dci_es(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=1, **SMALL)
    two = dci_es(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=2, **SMALL)
    assert {k: v for k, v in one.items() if k != "settings"} == {k: v for k, v in two.items() if k != "settings"}


@pytest.mark.parametrize("depths", [(4,), (2, 2, 4), (0, 3), "1,2"])
def test_bad_capacities_raise_input_error(toy_data, factors_as_codes, depths):
    with pytest.raises(InputError, match="max_depths"):
        dci_es(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), max_depths=depths)


def test_unknown_loss_floor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="loss_floor"):
        dci_es(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), loss_floor="best")


def test_baseline_losses_are_the_references_tables():
    # The reference's per-dataset baseline losses (src/simple_gather.py) from its
    # categorical factors (RepresentationDataset._factor_discrete).
    np.testing.assert_allclose(
        baseline_losses([3, 6, 40, 32, 32], np.array([True, False, False, False, False])), [2 / 3, 1, 1, 1, 1]
    )
    np.testing.assert_allclose(
        baseline_losses([6, 6, 2, 3, 3, 40, 40], np.array([True, True, False, False, True, False, False])),
        [5 / 6, 5 / 6, 1, 1, 2 / 3, 1, 1],
    )
    np.testing.assert_allclose(baseline_losses([4, 24, 183], np.array([False, False, True])), [1, 1, 182 / 183])


def test_explicitness_is_the_references_arithmetic_on_fixed_curves():
    # The reference's Explitcitness.add_curve (running minimum) and compute_explitcitness
    # (E = 1 - 2 * area above the minimum / ((max_x - min_x) * l_b)), written out.
    rng = np.random.RandomState(5)
    capacities = np.array([1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32], dtype=float)
    for _ in range(20):
        losses, baseline = rng.uniform(0, 1.2, size=len(capacities)), rng.choice([2 / 3, 1.0])
        y = losses.copy()
        for i in range(len(y)):
            y[i] = y[: i + 1].min()
        dy = 0.5 * (y[:-1] - y.min()) + 0.5 * (y[1:] - y.min())
        expected = 1.0 - np.sum(2 * dy * np.diff(capacities) / ((capacities[-1] - capacities[0]) * baseline))
        assert explicitness_from_curve(capacities, losses, baseline) == pytest.approx(expected, abs=1e-12)


class _DeclaringData:
    """Toy data that declares its first factor categorical, as dSprites declares shape."""

    def __init__(self, toy):
        self._toy = toy
        self.factors_num_values, self.num_factors = toy.factors_num_values, toy.num_factors
        self.observation_shape, self.categorical_factors = toy.observation_shape, (0,)

    def sample_factors(self, num, random_state):
        return self._toy.sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors, random_state):
        return self._toy.sample_observations_from_factors(factors, random_state)


def test_probes_are_the_references_forests(toy_data):
    # Categorical factor 0: a classifier scored by accuracy; ordinal factor 1: a regressor
    # on values scaled to [0, 1], scored by R^2; no leaf limit; one seed per forest.
    rng = np.random.RandomState(0)
    factors = np.stack([rng.randint(3, size=300), rng.randint(6, size=300)], axis=1)
    codes = factors + 0.3 * rng.randn(300, 2)
    settings = {"max_depths": (1, 4), "num_trees": 5, "max_leaf_nodes": None, "n_jobs": 1}
    importance, train_score, test_score = probe_forests(
        codes[:200], factors[:200], codes[200:], factors[200:], [3, 6], np.array([True, False]),
        np.random.RandomState(1), settings,
    )
    seeds = np.random.RandomState(1)
    for d, depth in enumerate((1, 4)):
        for k, forest_class in enumerate((RandomForestClassifier, RandomForestRegressor)):
            scale = 1.0 if k == 0 else 5.0
            forest = forest_class(n_estimators=5, max_depth=depth, max_leaf_nodes=None, n_jobs=1,
                                  random_state=seeds.randint(np.iinfo(np.int32).max))
            forest.fit(codes[:200], factors[:200, k] / scale if k else factors[:200, k])
            target = factors[200:, k] / scale if k else factors[200:, k]
            assert test_score[d, k] == forest.score(codes[200:], target)
            np.testing.assert_array_equal(importance[d, :, k], forest.feature_importances_)


def test_the_datasets_categorical_factors_decide_what_is_classified(toy_data, factors_as_codes):
    declaring = _DeclaringData(toy_data([3, 6]))
    result = dci_es(declaring, factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["settings"]["categorical_factors"] == [0]
    assert result["informativeness_test"] == pytest.approx(1.0)  # accuracy 1 and R^2 1
    undeclared = dci_es(toy_data([3, 6]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert undeclared["settings"]["categorical_factors"] == [0, 1]
    overridden = dci_es(declaring, factors_as_codes, np.random.RandomState(0), categorical_factors=[], **SMALL)
    assert overridden["settings"]["categorical_factors"] == []


@pytest.mark.parametrize("setting", [{"categorical_factors": [2]}, {"categorical_factors": 1},
                                     {"max_leaf_nodes": 1}, {"max_leaf_nodes": "all"}])
def test_bad_categorical_factors_or_leaf_limits_raise_input_error(toy_data, factors_as_codes, setting):
    with pytest.raises(InputError, match=next(iter(setting))):
        dci_es(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), **setting)


def test_the_datasets_declare_the_references_categorical_factors():
    # RepresentationDataset._factor_discrete of the reference, by factor name.
    from disentangle.data.cars3d import Cars3D
    from disentangle.data.dsprites import DSprites
    from disentangle.data.dsprites_variants import ColorDSprites
    from disentangle.data.mpi3d import MPI3D
    from disentangle.data.shapes3d import Shapes3D
    from disentangle.data.shapes3d_procedural import Shapes3DProcedural
    from disentangle.scoring.representation import IndexedFactorData

    def named(cls):
        return [cls.factor_names[k] for k in cls.categorical_factors]

    assert named(DSprites) == named(ColorDSprites) == ["shape"]
    assert named(Shapes3D) == named(Shapes3DProcedural) == ["shape"]
    assert named(MPI3D) == ["object colour", "object shape", "background colour"]
    assert named(Cars3D) == ["object"]
    stub = SimpleNamespace(num_factors=2, factors_num_values=[3, 4], observation_shape=(2,), categorical_factors=(0,))
    assert IndexedFactorData(stub).categorical_factors == (0,)  # the evaluation's view passes it on
