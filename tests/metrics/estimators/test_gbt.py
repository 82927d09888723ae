import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import GradientBoostingClassifier

from disentangle.errors import InputError
from disentangle.metrics.estimators.gbt import BoostedTrees, fit_gradient_boosting


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


def test_a_raw_prediction_of_zero_gives_the_second_class_as_in_sklearn():
    x, y = np.zeros((10, 2)), np.array([3, 7] * 5)  # balanced, and nothing to split on: raw 0
    model = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=2)
    reference = GradientBoostingClassifier(n_estimators=2).fit(x, y)
    assert list(model.predict(x)) == list(reference.predict(x)) == [7] * 10


def test_a_single_class_raises_input_error():
    with pytest.raises(InputError, match="at least 2 classes"):
        fit_gradient_boosting(np.zeros((5, 2)), np.ones(5), np.random.RandomState(0))


def staged_gradients(model, x, y):
    """The negative gradient each stage's trees were fitted to, ``(stages, N, T)``."""
    targets = (y[:, None] == model.classes).astype(np.float64)
    targets = targets[:, 1:] if len(model.classes) == 2 else targets
    gradients = []
    for stage in range(len(model.feature)):
        before = BoostedTrees(
            model.classes, model.init_raw, model.feature[:stage], model.threshold[:stage],
            model.value[:stage], model.feature_importances,
        ).decision_function(x)
        exp = np.exp(before - before.max(axis=1, keepdims=True))
        softmax = exp / exp.sum(axis=1, keepdims=True)
        probability = 1 / (1 + np.exp(-before)) if before.shape[1] == 1 else softmax
        gradients.append(targets - probability)
    return np.array(gradients)


def settled_nodes(tree_feature, tree_threshold, x32, gradient, margin=1e-9):
    """The nodes of the tree ``(tree_feature, tree_threshold)`` fitted to ``gradient``
    ``(N,)`` whose split (or none) neither rounding nor scikit-learn's random order of the
    features could change, nor that of a node above them: their best split beats every
    other split of the node (on another feature, or another partition) and the node's own
    sum by more than ``margin`` of the node's sum of squared gradients, and their gradient
    is not (nearly) constant."""
    node, settled = np.ones(len(x32), dtype=np.int64), set()
    for depth in range(4):
        for j in range(2**depth, 2 ** (depth + 1)):
            g = gradient[node == j]
            if j > 1 and j // 2 not in settled:
                continue
            if len(g) < 2 or depth == 3:
                settled.add(j)
                continue
            scale = margin * np.sum(g**2)
            if np.sum((g - g.mean()) ** 2) <= scale:
                continue
            proxies = []  # scikit-learn's proxy of every split: (values, feature)
            for f in range(x32.shape[1]):
                values = x32[node == j, f]
                ranked = values.argsort(kind="stable")
                left_sum, num_left = np.cumsum(g[ranked])[:-1], np.arange(1, len(g))
                proxy = left_sum**2 / num_left + (g.sum() - left_sum) ** 2 / (len(g) - num_left)
                proxies.append((proxy[values[ranked][1:] > values[ranked][:-1] + np.float32(1e-7)], f))
            best, best_feature = max((p.max(), f) for p, f in proxies if len(p))
            second = max(
                [np.sort(p)[-2] for p, f in proxies if f == best_feature and len(p) > 1]
                + [p.max() for p, f in proxies if f != best_feature and len(p)],
                default=-np.inf,
            )
            if best - second > scale and best - g.sum() ** 2 / len(g) > scale:
                settled.add(j)
                if tree_feature[j] >= 0:
                    node[node == j] = 2 * j + (x32[node == j, tree_feature[j]] > tree_threshold[j])
    return settled


@pytest.mark.parametrize("num_classes", [2, 3])
@settings(max_examples=15, deadline=None)
@given(num_samples=st.integers(100, 1000), num_features=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_random_data_gives_sklearns_trees_up_to_ties(num_classes, num_samples, num_features, seed):
    # Boosting a classifier fits trees to gradients of few distinct values (two per tree
    # at first), so that two splits often tie, exactly or up to rounding, even on distinct
    # values: the splits agree with scikit-learn's up to the first such tie, and where
    # there is none, so do the leaf values, predictions and importances.
    rng = np.random.RandomState(seed)
    x = rng.randn(num_samples, num_features).astype(np.float32).astype(np.float64)
    x_test = rng.randn(200, num_features)
    y = np.digitize(x[:, 0] + 1.5 * rng.randn(num_samples), np.linspace(-1, 1, num_classes - 1))
    assume(len(np.unique(y)) == num_classes)
    assume(all(len(np.unique(column)) == num_samples for column in x.T))
    ours = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=2)
    reference = GradientBoostingClassifier(n_estimators=2, random_state=seed % 1000).fit(x, y)

    for stage, gradient in enumerate(staged_gradients(ours, x, y)):
        tied = False
        for k, tree in enumerate(ours.feature[stage]):
            settled = settled_nodes(tree, ours.threshold[stage, k], x.astype(np.float32), gradient[:, k])
            splits, leaves = heap_tree(reference.estimators_[stage, k].tree_)
            for n in settled:
                assert tree[n] == splits.get(n, (-1, None))[0]
                if n in splits:
                    assert ours.threshold[stage, k, n] == splits[n][1]
            if {1} | {c for n in range(8) if tree[n] >= 0 for c in (2 * n, 2 * n + 1)} <= settled:
                for n, value in leaves.items():
                    assert ours.value[stage, k, n] == pytest.approx(value, rel=1e-9, abs=1e-12)
            else:
                tied = True
        if tied:  # the next stages' gradients may differ
            event(f"{num_features} features: a tie in stage {stage}")
            return
    event(f"{num_features} features: no tie")
    for points in (x, x_test):
        reference_raw = reference.decision_function(points).reshape(len(points), -1)
        np.testing.assert_allclose(ours.decision_function(points), reference_raw, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(ours.predict(points), reference.predict(points))
    importances = reference.feature_importances_
    np.testing.assert_allclose(ours.feature_importances, importances, rtol=1e-9, atol=1e-12)


def test_permuting_the_features_permutes_the_model_even_where_splits_tie():
    # Small data and four classes: many splits tie, and the tie goes to the same feature.
    x, y = problem(300, 4, 4, seed=3)
    permutation = np.array([2, 0, 3, 1])
    model = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=5)
    permuted = fit_gradient_boosting(x[:, permutation], y, np.random.RandomState(0), num_stages=5)
    split = model.feature >= 0
    np.testing.assert_array_equal(permutation[permuted.feature[split]], model.feature[split])
    np.testing.assert_array_equal(permuted.threshold, model.threshold)
    np.testing.assert_array_equal(permuted.value, model.value)
    np.testing.assert_array_equal(permuted.feature_importances, model.feature_importances[permutation])


def exhaustive_split(gradient, samples, values, feature_order, start, end, total):
    """The first best split of the node ``start..end - 1`` in ``feature_order``, then in
    position, over every position whose next value is more than 1e-7 larger (float32):
    ``(feature, cut)``, or ``(-1, -1)``; the same sums and proxy as scikit-learn's."""
    best, best_feature, best_cut = -np.inf, -1, -1
    for f in feature_order:
        node_samples, node_values, sum_left = samples[f, start:end], values[f, start:end], 0.0
        for p in range(end - start - 1):
            sum_left += float(gradient[node_samples[p]])
            if node_values[p + 1] > node_values[p] + np.float32(1e-7):
                num_left, num_right = p + 1, end - start - 1 - p
                sum_right = total - sum_left
                proxy = sum_left * sum_left / num_left + sum_right * sum_right / num_right
                if proxy > best:
                    best, best_feature, best_cut = proxy, int(f), start + p
    return best_feature, best_cut


@settings(max_examples=300, deadline=None)
@given(
    num_samples=st.integers(2, 40), num_features=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
    distinct_values=st.integers(1, 6), distinct_gradients=st.integers(1, 4), duplicate=st.booleans(),
)
def test_the_split_search_finds_the_first_best_split_of_an_exhaustive_search(
    num_samples, num_features, seed, distinct_values, distinct_gradients, duplicate
):
    # Few distinct values and gradients, values closer than 1e-7 and duplicated
    # features: ties between positions and between features, which the first one wins.
    from disentangle.metrics.estimators.gbt import _best_split

    rng = np.random.RandomState(seed)
    x = rng.randint(distinct_values, size=(num_features, num_samples)).astype(np.float32)
    x += np.float32(5e-8) * rng.randint(2, size=x.shape)
    if duplicate and num_features > 1:
        x[-1] = x[0]
    gradient = rng.choice([-1.0, -0.5, 0.25, 1.0][:distinct_gradients], size=num_samples)
    # a node of the samples in ``members``, laid out at positions start..end - 1
    members = np.flatnonzero(rng.rand(num_samples) < 0.8)
    assume(len(members) >= 2)
    start = rng.randint(3)
    end = start + len(members)
    samples = np.zeros((num_features, end + 2), dtype=np.int32)
    values = np.zeros((num_features, end + 2), dtype=np.float32)
    for f in range(num_features):
        ranked = members[np.argsort(x[f, members], kind="stable")]
        samples[f, start:end], values[f, start:end] = ranked, x[f, ranked]
    feature_order = rng.permutation(num_features)
    total = float(np.sum(gradient[members]))
    reciprocal = 1.0 / np.maximum(np.arange(num_samples + 1), 1)
    found = _best_split(gradient, samples, values, feature_order, start, end, total, reciprocal)
    expected = exhaustive_split(gradient, samples, values, feature_order, start, end, total)
    assert tuple(int(v) for v in found) == expected


def test_a_stages_trees_grown_in_groups_in_threads_give_the_same_model():
    from concurrent.futures import ThreadPoolExecutor

    x, y = problem(3000, 3, 40, seed=7)  # 40 trees x 3,000 samples per stage: grown in groups
    alone = fit_gradient_boosting(x, y, np.random.RandomState(0), num_stages=3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        grouped = fit_gradient_boosting(
            x, y, np.random.RandomState(0), num_stages=3, map_tasks=pool.map, num_groups=3
        )
    for name in ("init_raw", "feature", "threshold", "value", "feature_importances"):
        np.testing.assert_array_equal(getattr(grouped, name), getattr(alone, name))
    np.testing.assert_array_equal(grouped.decision_function(x), alone.decision_function(x))


def boosted_by_hand(x, y, feature, threshold):
    """scikit-learn's boosting arithmetic (as dlib's ``GradientBoostingClassifier()`` runs it),
    written out on the given tree structure ``(stages, T, 16)`` (heap-indexed, -1 at leaves; go
    left when the float32 value is at most the threshold): per stage and tree, the negative
    gradient of the log loss at the stage's raw predictions, the samples' leaves, each leaf's
    Newton step (mean gradient over mean p(1 - p), times (C - 1) / C for C > 2 classes), and
    each split's impurity decrease n·var − n_l·var_l − n_r·var_r over n of the root.

    Returns ``(leaf values (stages, T, 16), raw predictions (N, T), importances (D,))``: the
    importances are the mean over trees with a split of their decreases, normalised to sum 1.
    """
    classes, encoded = np.unique(y, return_inverse=True)
    num_classes, (num_stages, num_trees, _) = len(classes), feature.shape
    prior = np.bincount(encoded) / len(y)
    raw = (np.tile(np.log(prior[1] / prior[0]), (len(y), 1)) if num_classes == 2
           else np.tile(np.log(prior) - np.mean(np.log(prior)), (len(y), 1)))
    targets = (encoded[:, None] == np.arange(num_classes)).astype(np.float64)[:, -num_trees:]
    x32 = x.astype(np.float32)
    values, decreases = np.zeros(feature.shape), []
    for stage in range(num_stages):
        if num_classes == 2:
            probability = 1 / (1 + np.exp(-raw))
        else:
            probability = np.exp(raw - raw.max(axis=1, keepdims=True))
            probability /= probability.sum(axis=1, keepdims=True)
        step = np.zeros_like(raw)
        for k in range(num_trees):
            gradient, p = targets[:, k] - probability[:, k], probability[:, k]
            node, tree_decrease = np.ones(len(y), dtype=np.int64), np.zeros(x.shape[1])
            for _ in range(3):
                for n in np.unique(node):
                    f = feature[stage, k, n]
                    if f < 0:
                        continue
                    here = node == n
                    right = here & (x32[:, f] > np.float32(threshold[stage, k, n]))
                    left = here & ~right
                    tree_decrease[f] += (here.sum() * gradient[here].var() - left.sum() * gradient[left].var()
                                         - right.sum() * gradient[right].var()) / len(y)
                    node[left], node[right] = 2 * n, 2 * n + 1
            for n in np.unique(node):
                leaf = node == n
                newton = np.mean(gradient[leaf]) / np.mean(p[leaf] * (1 - p[leaf]))
                values[stage, k, n] = newton * ((num_classes - 1) / num_classes if num_classes > 2 else 1)
            step[:, k] = values[stage, k, node]
            if feature[stage, k, 1] >= 0:
                decreases.append(tree_decrease)
        raw = raw + 0.1 * step
    importances = np.mean(decreases, axis=0)
    return values, raw, importances / importances.sum()


@pytest.mark.parametrize("num_classes", [2, 4])
def test_the_full_model_is_boosting_written_out_by_hand_on_its_trees_and_predicts_as_sklearn(num_classes):
    # All 100 stages: every leaf value, raw prediction and the impurity importances follow from
    # the trees' splits by scikit-learn's (dlib's) arithmetic; and on this fixed input, where
    # scikit-learn's own seeds agree, the model predicts the training points as scikit-learn's.
    x, y = problem(1000, 3, num_classes, seed=20 + num_classes)
    ours = fit_gradient_boosting(x, y, np.random.RandomState(0))
    values, raw, importances = boosted_by_hand(x, y, ours.feature, ours.threshold)
    leaves = ours.feature < 0
    np.testing.assert_allclose(ours.value[leaves], values[leaves], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.decision_function(x), raw, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.feature_importances, importances, rtol=1e-9, atol=1e-12)

    reference, other_seed = (GradientBoostingClassifier(random_state=seed).fit(x, y) for seed in (0, 1))
    sklearn_raw = reference.decision_function(x).reshape(len(x), -1)
    np.testing.assert_allclose(other_seed.decision_function(x).reshape(len(x), -1), sklearn_raw, atol=1e-9)
    np.testing.assert_allclose(ours.decision_function(x), sklearn_raw, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(x), reference.predict(x))
