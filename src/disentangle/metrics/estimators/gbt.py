"""scikit-learn's ``GradientBoostingClassifier()`` with its default settings, compiled with numba.

DCI fits one such classifier per factor (dlib: ``GradientBoostingClassifier()``): 100
stages of depth-3 regression trees fitted to the negative gradient of the log loss
(multinomial, one tree per class; binomial, one tree, for two classes), learning rate
0.1, initial raw predictions from the class prior, squared-error splits searched over
every feature and threshold (no split between values closer than 1e-7), at least one
sample per leaf, and one Newton step per leaf.

scikit-learn sorts a node's samples anew for every feature. Here each feature is sorted
once; a split partitions every feature's sorted samples stably between the two children,
so that each node scans its samples in sorted order with a running sum of the gradient,
as scikit-learn's splitter does: the same trees, several times faster. The kernels
release the GIL, so that DCI's threads fit factors in parallel; numba compiles them on
first use (5–10 s) and caches them on disk (next to this file, else in numba's
user-wide cache).

The model equals scikit-learn's (same splits, thresholds and leaf values, hence the same
predictions and ``feature_importances_`` up to rounding in the last bits) except where two
splits of a node improve the loss equally, exactly or up to rounding. Such ties are
common: the gradients take few distinct values (two per tree in the first stage), so
that different partitions often have the same sums, two features may separate a node's
samples alike, and all splits of a node whose gradient is constant are equal. Rounding
then decides as the sums' order does (the root's sums run over the samples in index order,
as scikit-learn's; a child's in the order of its split feature, where scikit-learn's
depends on the features it visited), and exact ties go, as in scikit-learn, to the first
feature in a random order of the features drawn for every node from ``random_state``.
These orders follow the features' values, not their positions (a hash of each feature's
sort order and a random draw per node), so that permuting the features permutes the model
and nothing else. ``tests/metrics/estimators/test_gbt.py`` checks the equality with scikit-learn.
"""

from __future__ import annotations

import itertools
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.special
import scipy.stats

from disentangle.compiled import compiled
from disentangle.errors import InputError

LEARNING_RATE = 0.1
NUM_STAGES = 100
MAX_DEPTH = 3
#: trees are stored heap-indexed: node n has children 2n and 2n + 1, the root is 1
_NODES = 2 ** (MAX_DEPTH + 1)
#: trees x samples from which a stage's trees grow in groups (see fit_gradient_boosting)
GROUPED_STAGE_SIZE = 100_000
#: scikit-learn's FEATURE_THRESHOLD (float32) and EPSILON (float64 machine epsilon)
_FEATURE_THRESHOLD = np.float32(1e-7)
_EPSILON = np.finfo(np.float64).eps


def _preorder(node: int = 1) -> list[int]:
    """The split nodes below ``node`` in depth-first order, the order of scikit-learn's ids."""
    return [] if node >= 2**MAX_DEPTH else [node, *_preorder(2 * node), *_preorder(2 * node + 1)]


_PREORDER = np.array(_preorder())

#: _grow_tree's work space: two layouts ``(2, D, N)`` of samples and of their values, a
#: spare ``(N,)`` of each for partitioning, and ``reciprocal[n] = 1 / n``
_Work = namedtuple("_Work", "samples values spare_samples spare_values reciprocal")


@dataclass
class BoostedTrees:
    """A fitted classifier; T trees per stage (one per class, or one for two classes)."""

    classes: np.ndarray  #: (C,) sorted class labels
    init_raw: np.ndarray  #: (T,) raw prediction before the first stage
    feature: np.ndarray  #: (stages, T, 16) split feature per node, -1 at leaves
    threshold: np.ndarray  #: (stages, T, 16) go left when x <= threshold
    value: np.ndarray  #: (stages, T, 16) leaf values
    feature_importances: np.ndarray  #: (D,) impurity-based, summing to 1

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions ``(N, T)``."""
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        return _decision_function(x32, self.init_raw, self.feature, self.threshold, self.value)

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = self.decision_function(x)
        # scikit-learn's rule: the positive class from a raw prediction of 0 up
        encoded = (raw[:, 0] >= 0).astype(np.int64) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        return self.classes[encoded]


def fit_gradient_boosting(
    x: np.ndarray, y: np.ndarray, random_state: np.random.RandomState, num_stages: int = NUM_STAGES,
    map_tasks: Callable = map, num_groups: int = 1,
) -> BoostedTrees:
    """Fit on features ``(N, D)`` and labels ``(N,)`` (at least two classes).

    ``random_state`` only breaks ties between equally good splits, as scikit-learn's does;
    ``num_stages`` is scikit-learn's ``n_estimators``. A stage's trees (one per class) are
    independent: where a stage is large (trees x samples >= ``GROUPED_STAGE_SIZE``) they
    grow in ``num_groups`` groups run by ``map_tasks`` (e.g. a thread pool's ``map``), which
    keeps threads busy when one classifier of many classes is left; the model is the same.
    """
    x32 = np.asarray(x, dtype=np.float32)
    classes, encoded = np.unique(np.asarray(y), return_inverse=True)
    if len(classes) < 2:
        raise InputError(f"gradient boosting: expected at least 2 classes, got {len(classes)}")
    num_samples, num_features = x32.shape
    prior = np.clip(np.bincount(encoded) / num_samples, _EPSILON, 1 - _EPSILON)
    if len(classes) == 2:
        init_raw = np.array([scipy.special.logit(prior[1])])
    else:
        init_raw = np.log(prior / scipy.stats.gmean(prior))
    num_trees, encoded = len(init_raw), encoded.astype(np.int64)

    columns = np.ascontiguousarray(x32.T)  # (D, N)
    order = np.argsort(columns, axis=1, kind="stable").astype(np.int32)  # (D, N)
    sorted_columns = np.take_along_axis(columns, order, axis=1)
    fingerprints = _fingerprints(order)
    reciprocal = 1.0 / np.maximum(np.arange(num_samples + 1), 1)
    raw = np.tile(init_raw, (num_samples, 1))
    shape = (num_stages, num_trees, _NODES)
    feature, threshold, value = np.full(shape, -1), np.zeros(shape), np.zeros(shape)
    importance_sum, num_split_trees = np.zeros(num_features), 0
    importance = np.zeros((num_trees, num_features))
    grouped = num_trees * num_samples >= GROUPED_STAGE_SIZE
    groups = np.array_split(np.arange(num_trees), min(num_groups, num_trees) if grouped else 1)
    for stage in range(num_stages):
        feature_order = _feature_orders(fingerprints, random_state, num_trees)
        stage_inputs = (
            raw, _negative_gradient(raw, encoded), encoded, len(classes), columns, order, sorted_columns,
            feature_order, reciprocal,
        )
        if len(groups) > 1:
            grown = map_tasks(_boost_trees, groups, *map(itertools.repeat, stage_inputs))
        else:
            grown = [_boost_trees(groups[0], *stage_inputs)]
        for trees, (tree_feature, tree_threshold, tree_value, tree_importance) in zip(groups, grown):
            feature[stage, trees], threshold[stage, trees] = tree_feature, tree_threshold
            value[stage, trees], importance[trees] = tree_value, tree_importance
        has_split = feature[stage, :, 1] >= 0
        importance_sum += importance[has_split].sum(axis=0)
        num_split_trees += int(has_split.sum())
    if num_split_trees == 0:
        importances = np.zeros(num_features)
    else:
        importances = importance_sum / num_split_trees
        importances = importances / importances.sum()
    return BoostedTrees(classes, init_raw, feature, threshold, value, importances)


def _fingerprints(order: np.ndarray) -> np.ndarray:
    """A hash ``(D,)`` of each feature's sort order ``order`` ``(D, N)``."""
    num_samples = np.uint64(order.shape[1])
    return _mix(order.astype(np.uint64) + num_samples * np.arange(num_samples, dtype=np.uint64)).sum(axis=1)


def _feature_orders(fingerprints: np.ndarray, random_state, num_trees: int) -> np.ndarray:
    """The order ``(T, 8, D)`` in which each node of a stage's trees visits the features;
    of two equally good splits, a node keeps the first.

    As scikit-learn's, a random order for every node, but a hash of the features'
    ``fingerprints`` and of a ``random_state`` draw per node: it follows the features,
    not their positions.
    """
    salt = random_state.randint(np.iinfo(np.int64).max, size=(num_trees, _NODES // 2, 1)).astype(np.uint64)
    return np.argsort(_mix(fingerprints ^ salt), axis=-1, kind="stable")


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, a hash of ``uint64`` arrays (wrapping around)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@compiled
def _decision_function(x, init_raw, feature, threshold, value):
    """``init_raw`` plus the learning rate times the leaf value reached in every tree, stage
    by stage, for each sample of ``x`` ``(N, D)``: ``(N, T)``."""
    num_stages, num_trees = feature.shape[:2]
    raw = np.empty((num_trees, len(x)))
    for t in range(num_trees):
        raw[t] = init_raw[t]
    for stage in range(num_stages):
        for t in range(num_trees):
            tree_feature, tree_threshold, tree_value = feature[stage, t], threshold[stage, t], value[stage, t]
            for i in range(len(x)):
                node = 1
                for _ in range(MAX_DEPTH):  # without branches: a leaf (feature -1) keeps its node
                    f = tree_feature[node]
                    right = x[i, _unsigned(max(f, 0))] > tree_threshold[node]
                    node = 2 * node + right if f >= 0 else node
                raw[t, i] += LEARNING_RATE * tree_value[node]
    return raw.T.copy()


@compiled
def _boost_trees(
    trees, raw, negative_gradient, encoded, num_classes, columns, order, sorted_columns, feature_order,
    reciprocal,
):
    """Grow the trees ``trees`` of a stage: fit tree t to the negative gradient of the log
    loss ``negative_gradient[t]`` (``(T, N)``, at the stage's start), set its leaves by a
    Newton step and add it to column t of ``raw`` ``(N, T)``.

    Returns the split feature (-1 at leaves), threshold and value per node
    ``(len(trees), 16)`` and the unnormalised impurity importances ``(len(trees), D)``.
    """
    num_samples = raw.shape[0]
    num_features = columns.shape[0]
    feature = np.full((len(trees), _NODES), -1, dtype=np.int64)
    threshold, value = np.zeros((len(trees), _NODES)), np.zeros((len(trees), _NODES))
    importance = np.zeros((len(trees), num_features))
    leaf = np.empty(num_samples, dtype=np.int8)
    work = _Work(
        np.empty((2, num_features, num_samples), dtype=order.dtype),
        np.empty((2, num_features, num_samples), dtype=sorted_columns.dtype),
        np.empty(num_samples, dtype=order.dtype),
        np.empty(num_samples, dtype=sorted_columns.dtype),
        reciprocal,
    )
    for j in range(len(trees)):
        t = trees[j]
        _grow_tree(
            negative_gradient[t], columns, order, sorted_columns, feature_order[t], work,
            leaf, feature[j], threshold[j], importance[j],
        )
        _newton_step(negative_gradient[t], encoded, num_classes, t, leaf, value[j])
        for i in range(num_samples):
            raw[i, t] += LEARNING_RATE * value[j, _unsigned(leaf[i])]
    return feature, threshold, value, importance


@compiled
def _negative_gradient(raw, encoded):
    """Negative gradient of the log loss ``(T, N)`` at ``raw`` ``(N, T)``, computed as
    scikit-learn's ``HalfBinomialLoss`` and ``HalfMultinomialLoss`` do."""
    num_samples, num_trees = raw.shape
    negative_gradient = np.empty((num_trees, num_samples))
    exp = np.empty(num_trees)
    for i in range(num_samples):
        if num_trees == 1:
            y, r = np.float64(encoded[i]), raw[i, 0]
            if r > -37:
                e = np.exp(-r)
                negative_gradient[0, i] = -(((1 - y) - y * e) / (1 + e))
            else:
                negative_gradient[0, i] = -(np.exp(r) - y)
            continue
        largest = raw[i, 0]
        for k in range(1, num_trees):
            if largest < raw[i, k]:
                largest = raw[i, k]
        total = 0.0
        for k in range(num_trees):
            exp[k] = np.exp(raw[i, k] - largest)
            total += exp[k]
        for k in range(num_trees):
            negative_gradient[k, i] = -(exp[k] / total - np.float64(encoded[i] == k))
    return negative_gradient


@compiled
def _newton_step(negative_gradient, encoded, num_classes, tree, leaf, value):
    """Leaf values ``(16,)``: mean negative gradient over mean p (1 - p), scaled by
    (C - 1) / C for more than two classes, as in scikit-learn."""
    count, numerator, denominator = np.zeros(_NODES), np.zeros(_NODES), np.zeros(_NODES)
    target = 1 if num_classes == 2 else tree
    for i in range(len(leaf)):
        probability = np.float64(encoded[i] == target) - negative_gradient[i]
        node = _unsigned(leaf[i])
        count[node] += 1.0
        numerator[node] += negative_gradient[i]
        denominator[node] += probability * (1 - probability)
    for node in range(_NODES):
        if count[node] > 0:
            mean_numerator, mean_denominator = numerator[node] / count[node], denominator[node] / count[node]
            if num_classes > 2:
                mean_numerator *= (num_classes - 1) / num_classes
            if abs(mean_denominator) >= 1e-150:
                value[node] = mean_numerator / mean_denominator


@compiled
def _grow_tree(
    gradient, columns, order, sorted_columns, feature_order, work, leaf, feature, threshold, importance
):
    """Grow one regression tree on ``gradient`` ``(N,)`` as scikit-learn's
    ``DepthFirstTreeBuilder`` does, into ``leaf`` ``(N,)``, ``feature`` and ``threshold``
    ``(16,)`` and ``importance`` ``(D,)``.

    ``columns`` ``(D, N)`` holds the float32 features, ``order`` ``(D, N)`` sorts each of
    them, ``sorted_columns`` holds the sorted values and ``feature_order`` ``(8, D)`` gives
    the order in which each node visits the features. At every level ``samples[f]`` lists
    each node's samples in one segment, sorted by feature f, and ``values[f]`` their
    values; the segment of a split node is partitioned stably into those of its children,
    from one of the two layouts in ``work`` into the other.
    """
    num_features, num_samples = columns.shape
    start, end = np.zeros(_NODES, dtype=np.int64), np.zeros(_NODES, dtype=np.int64)
    count, total, impurity = np.zeros(_NODES), np.zeros(_NODES), np.zeros(_NODES)
    gain = np.zeros(_NODES)  # weighted impurity decrease of each split
    end[1] = num_samples
    # the root's statistics sum the samples in index order, as scikit-learn's do
    count[1], total[1], impurity[1] = _stats(gradient, np.arange(num_samples))
    leaf[:] = 1
    samples, values = order, sorted_columns
    for depth in range(MAX_DEPTH):
        new_samples, new_values = work.samples[depth % 2], work.values[depth % 2]
        for node in range(2**depth, 2 ** (depth + 1)):
            if count[node] < 2 or impurity[node] <= _EPSILON:
                continue
            a, b = start[node], end[node]
            f, cut = _best_split(
                gradient, samples, values, feature_order[node], a, b, total[node], work.reciprocal
            )
            if f < 0:
                continue
            left, right = 2 * node, 2 * node + 1
            start[left], end[left], start[right], end[right] = a, cut + 1, cut + 1, b
            for child in (left, right):
                count[child], total[child], impurity[child] = _stats(
                    gradient, samples[f, start[child] : end[child]]
                )
            # scikit-learn's impurity improvement check, with its EPSILON tolerance
            n = count[node]
            improvement = (n / num_samples) * (
                impurity[node] - count[right] / n * impurity[right] - count[left] / n * impurity[left]
            )
            if improvement + _EPSILON < 0.0:
                count[left] = count[right] = 0.0
                continue
            feature[node] = f
            gain[node] = n * impurity[node] - count[left] * impurity[left] - count[right] * impurity[right]
            # scikit-learn's threshold: halves of the float32 values around the cut, in float64
            low, high = np.float64(values[f, cut]), np.float64(values[f, cut + 1])
            threshold[node] = low / 2.0 + high / 2.0
            if threshold[node] == high or np.isinf(threshold[node]):
                threshold[node] = low
            for child in (left, right):
                for sample in samples[f, start[child] : end[child]]:
                    leaf[_unsigned(sample)] = child
            if depth + 1 < MAX_DEPTH:
                for g in range(num_features):
                    _partition(
                        samples[g, a:b], values[g, a:b], new_samples[g, a:b], new_values[g, a:b], leaf, left,
                        work.spare_samples, work.spare_values,
                    )
        samples, values = new_samples, new_values
    # scikit-learn sums the importances over the nodes in depth-first order
    for node in _PREORDER:
        if feature[node] >= 0:
            importance[feature[node]] += gain[node]
    importance /= num_samples


@compiled
def _stats(gradient, samples):
    """Count, sum and squared-error impurity of ``gradient[samples]``, summed in order."""
    total, squares = 0.0, 0.0
    for i in samples:
        total += gradient[_unsigned(i)]
        squares += gradient[_unsigned(i)] * gradient[_unsigned(i)]
    count = np.float64(len(samples))
    return count, total, squares / count - (total / count) ** 2


@compiled
def _best_split(gradient, samples, values, feature_order, start, end, total, reciprocal):
    """scikit-learn's best split of the node ``start..end - 1``: ``(feature, cut)``, the
    left child being positions ``start..cut`` of ``samples[feature]``, or ``(-1, -1)``.

    Scans the features in ``feature_order`` keeping a running gradient sum and maximises
    scikit-learn's squared-error proxy ``sum_left² / n_left + sum_right² / n_right`` over
    the positions whose next value is more than 1e-7 larger; the first best wins. The
    proxy is computed only where its bound with ``reciprocal[n] = 1 / n`` in place of the
    divisions (within a few ulps of it) comes within 1e-12 of the best so far.
    """
    num = end - start
    best_proxy, floor, best_feature, best_cut = -np.inf, -np.inf, -1, -1
    for f in feature_order:
        node_samples, node_values = samples[f, start:end], values[f, start:end]
        sum_left = 0.0
        for p in range(num - 1):  # the left child: positions 0..p
            sum_left += gradient[_unsigned(node_samples[p])]
            sum_right, num_left, num_right = total - sum_left, p + 1, num - 1 - p
            left_square, right_square = sum_left * sum_left, sum_right * sum_right
            bound = left_square * reciprocal[num_left] + right_square * reciprocal[num_right]
            if bound >= floor and node_values[p + 1] > node_values[p] + _FEATURE_THRESHOLD:
                proxy = left_square / np.float64(num_left) + right_square / np.float64(num_right)
                if proxy > best_proxy:
                    best_proxy, best_feature, best_cut = proxy, f, start + p
                    floor = best_proxy * (1.0 - 1e-12)
    return best_feature, best_cut


@compiled
def _partition(samples, values, new_samples, new_values, leaf, left, spare_samples, spare_values):
    """Copy ``samples`` (and ``values``) to ``new_samples``, those in node ``left`` first,
    each part in its order; without branches, through the spares."""
    num_left, num_right = 0, 0
    for p in range(len(samples)):
        sample, value = samples[p], values[p]
        is_left = leaf[_unsigned(sample)] == left
        new_samples[num_left], new_values[num_left] = sample, value
        spare_samples[num_right], spare_values[num_right] = sample, value
        num_left += is_left
        num_right += not is_left
    for q in range(num_right):
        new_samples[num_left + q], new_values[num_left + q] = spare_samples[q], spare_values[q]


@compiled
def _unsigned(index):
    """``index`` as an unsigned integer, for which numba skips the check for negative indices."""
    return np.uint64(index)
