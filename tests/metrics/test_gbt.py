import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from disentangle.errors import InputError
from disentangle.metrics.gbt import fit_gradient_boosting


def problem(num_samples, num_features, num_classes, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(num_classes, size=num_samples)
    x = 0.3 * rng.randn(num_samples, num_features)
    x[:, 0] += y / num_classes
    x[:, 1] += (y % 2) * 0.2
    return x, y


def heap_tree(tree):
    """{heap index: (feature, threshold)} of the splits and {heap index: value} of the leaves."""
    heap, splits, leaves = {0: 1}, {}, {}
    for node in range(tree.node_count):
        if tree.children_left[node] == -1:
            leaves[heap[node]] = tree.value[node, 0, 0]
        else:
            heap[tree.children_left[node]] = 2 * heap[node]
            heap[tree.children_right[node]] = 2 * heap[node] + 1
            splits[heap[node]] = (tree.feature[node], tree.threshold[node])
    return splits, leaves


@pytest.mark.parametrize("num_classes", [2, 4])
def test_first_stages_grow_the_same_trees_as_sklearn(num_classes):
    x, y = problem(2000, 4, num_classes, seed=5)
    reference = GradientBoostingClassifier(n_estimators=2, random_state=0).fit(x, y)
    ours = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=2)
    for stage in range(2):
        for k, estimator in enumerate(reference.estimators_[stage]):
            splits, leaves = heap_tree(estimator.tree_)
            assert {n: ours.feature[stage, k, n] for n in range(16) if ours.feature[stage, k, n] >= 0} == {
                n: f for n, (f, _) in splits.items()
            }
            for n, (_, threshold) in splits.items():
                assert ours.threshold[stage, k, n] == threshold
            for n, value in leaves.items():
                assert ours.value[stage, k, n] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [2, 4])
def test_full_model_agrees_with_sklearn_as_closely_as_sklearn_agrees_with_itself(num_classes):
    # Only exact ties between features may differ, and sklearn breaks those at random:
    # two of its seeds bound how far apart two correct fits may be.
    x, y = problem(1500, 5, num_classes, seed=num_classes)
    x_test, _ = problem(1000, 5, num_classes, seed=10 + num_classes)
    reference = GradientBoostingClassifier(random_state=0).fit(x, y)
    other_seed = GradientBoostingClassifier(random_state=1).fit(x, y)
    ours = fit_gradient_boosting(x, y, np.random.RandomState(0))

    sklearn_spread = np.abs(other_seed.feature_importances_ - reference.feature_importances_).max()
    ours_spread = np.abs(ours.feature_importances - reference.feature_importances_).max()
    assert ours_spread <= 2 * sklearn_spread + 1e-3
    for points in (x, x_test):
        sklearn_agreement = np.mean(other_seed.predict(points) == reference.predict(points))
        assert np.mean(ours.predict(points) == reference.predict(points)) >= sklearn_agreement - 0.01
    assert ours.feature_importances.sum() == pytest.approx(1.0)


def test_decision_function_of_the_same_trees_equals_sklearns():
    x, y = problem(2000, 4, 4, seed=5)
    x_test, _ = problem(500, 4, 4, seed=6)
    model = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=2)
    reference = GradientBoostingClassifier(n_estimators=2, random_state=0).fit(x, y)
    np.testing.assert_allclose(
        model.decision_function(x_test), reference.decision_function(x_test), atol=1e-9
    )


def test_labels_are_returned_in_their_own_values():
    x, y = problem(300, 2, 3, seed=2)
    model = fit_gradient_boosting(x, np.array([10, 20, 30])[y], np.random.RandomState(0), num_stages=3)
    assert set(np.unique(model.predict(x))) <= {10, 20, 30}


def test_a_single_class_raises_input_error():
    with pytest.raises(InputError, match="at least 2 classes"):
        fit_gradient_boosting(np.zeros((5, 2)), np.ones(5), np.random.RandomState(0))
