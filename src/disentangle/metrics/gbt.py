"""scikit-learn's ``GradientBoostingClassifier()`` with its default settings, in vectorised NumPy.

DCI fits one such classifier per factor (dlib: ``GradientBoostingClassifier()``): 100
stages of depth-3 regression trees fitted to the negative gradient of the log loss
(multinomial, one tree per class; binomial, one tree, for two classes), learning rate
0.1, initial raw predictions from the class prior, squared-error splits searched over
every feature and threshold (no split between values closer than 1e-7), at least one
sample per leaf, and one Newton step per leaf. scikit-learn grows those trees one at a
time and sorts the samples of every node anew; here each feature is sorted once and all
trees of a stage grow together, level by level, from prefix sums over the sorted
samples: the same trees, several times faster.

The model equals scikit-learn's (same splits, thresholds and leaf values, hence the same
predictions and ``feature_importances_`` up to rounding in the last bits) except where two
splits improve the loss by exactly the same amount: scikit-learn keeps the first in a
random order of the features (its ``random_state``; dlib leaves it unset), this keeps the
lowest feature index. ``tests/metrics/test_gbt.py`` checks the equality against
scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special
import scipy.stats

from disentangle.errors import InputError

LEARNING_RATE = 0.1
NUM_STAGES = 100
MAX_DEPTH = 3
#: trees are stored heap-indexed: node n has children 2n and 2n + 1, the root is 1
_NODES = 2 ** (MAX_DEPTH + 1)
#: scikit-learn's FEATURE_THRESHOLD (float32) and EPSILON (float64 machine epsilon)
_FEATURE_THRESHOLD = np.float32(1e-7)
_EPSILON = np.finfo(np.float64).eps
#: trees grown together: bounds the (trees, features, samples) work arrays
_TREE_BLOCK = 8


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
        columns = np.asarray(x, dtype=np.float32).T
        raw = np.tile(self.init_raw, (columns.shape[1], 1))
        trees = np.arange(raw.shape[1])[:, None]
        for feature, threshold, value in zip(self.feature, self.threshold, self.value):
            raw += LEARNING_RATE * value[trees, _apply(feature, threshold, columns)].T
        return raw

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = self.decision_function(x)
        encoded = (raw[:, 0] > 0).astype(np.int64) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        return self.classes[encoded]


def _apply(feature: np.ndarray, threshold: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Leaf ``(T, N)`` reached by each sample in each tree; ``columns`` is ``(D, N)`` float32."""
    trees = np.arange(feature.shape[0])[:, None]
    samples = np.arange(columns.shape[1])[None, :]
    node = np.ones((feature.shape[0], columns.shape[1]), dtype=np.int64)
    for _ in range(MAX_DEPTH):
        split_feature = feature[trees, node]
        right = columns[np.maximum(split_feature, 0), samples] > threshold[trees, node]
        node = np.where(split_feature >= 0, 2 * node + right, node)
    return node


def fit_gradient_boosting(
    x: np.ndarray, y: np.ndarray, random_state: np.random.RandomState, num_stages: int = NUM_STAGES
) -> BoostedTrees:
    """Fit on features ``(N, D)`` and labels ``(N,)`` (at least two classes).

    ``random_state`` only breaks exact ties between features, as scikit-learn's does;
    ``num_stages`` is scikit-learn's ``n_estimators``.
    """
    x32 = np.asarray(x, dtype=np.float32)
    classes, encoded = np.unique(np.asarray(y), return_inverse=True)
    if len(classes) < 2:
        raise InputError(f"gradient boosting: expected at least 2 classes, got {len(classes)}")
    num_samples = len(encoded)
    prior = np.clip(np.bincount(encoded) / num_samples, _EPSILON, 1 - _EPSILON)
    if len(classes) == 2:
        init_raw = np.array([scipy.special.logit(prior[1])])
        targets = (encoded == 1).astype(np.float64)[:, None]
    else:
        init_raw = np.log(prior / scipy.stats.gmean(prior))
        targets = (encoded[:, None] == np.arange(len(classes))).astype(np.float64)
    num_trees = targets.shape[1]

    order = np.argsort(x32, axis=0, kind="stable").T  # (D, N)
    sorted_columns = np.take_along_axis(x32, order.T, axis=0).T  # (D, N)
    inseparable = sorted_columns[:, 1:] <= sorted_columns[:, :-1] + _FEATURE_THRESHOLD
    raw = np.tile(init_raw, (num_samples, 1))
    shape = (num_stages, num_trees, _NODES)
    feature, threshold, value = np.full(shape, -1), np.zeros(shape), np.zeros(shape)
    importance_sum, num_split_trees = np.zeros(x32.shape[1]), 0
    for stage in range(num_stages):
        negative_gradient = (targets - _probabilities(raw)).T  # (T, N)
        for block in range(0, num_trees, _TREE_BLOCK):
            trees = slice(block, block + _TREE_BLOCK)
            leaf, feature[stage, trees], threshold[stage, trees], importance = _grow_trees(
                negative_gradient[trees], order, sorted_columns, inseparable, random_state
            )
            value[stage, trees] = _leaf_values(
                leaf, negative_gradient[trees], targets[:, trees].T, len(classes)
            )
            raw[:, trees] += LEARNING_RATE * np.take_along_axis(value[stage, trees], leaf, axis=1).T
            has_split = feature[stage, trees, 1] >= 0
            importance_sum += importance[has_split].sum(axis=0)
            num_split_trees += int(has_split.sum())
    if num_split_trees == 0:
        importances = np.zeros(x32.shape[1])
    else:
        importances = importance_sum / num_split_trees
        importances = importances / importances.sum()
    return BoostedTrees(classes, init_raw, feature, threshold, value, importances)


def _probabilities(raw: np.ndarray) -> np.ndarray:
    """Class probabilities ``(N, T)``: sigmoid for one column, softmax otherwise."""
    if raw.shape[1] == 1:
        return scipy.special.expit(raw)
    exp = np.exp(raw - raw.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _node_stats(gradient: np.ndarray, squared: np.ndarray, node: np.ndarray):
    """Per (tree, node): sample count, gradient sum and squared-error impurity, each ``(T, 16)``.

    ``squared`` is ``gradient ** 2``.
    """
    flat = (node + _NODES * np.arange(node.shape[0])[:, None]).ravel()
    size = node.shape[0] * _NODES
    count = np.bincount(flat, minlength=size).reshape(-1, _NODES)
    total = np.bincount(flat, weights=gradient.ravel(), minlength=size).reshape(-1, _NODES)
    squares = np.bincount(flat, weights=squared.ravel(), minlength=size).reshape(-1, _NODES)
    with np.errstate(divide="ignore", invalid="ignore"):
        impurity = squares / count - (total / count) ** 2
    return count, total, np.where(count > 0, impurity, 0.0)


def _grow_trees(gradient, order, sorted_columns, inseparable_sorted, random_state):
    """Grow one regression tree per row of ``gradient`` ``(T, N)``, all at once.

    ``order`` ``(D, N)`` sorts each feature, ``sorted_columns`` ``(D, N)`` holds the
    sorted float32 values and ``inseparable_sorted`` ``(D, N - 1)`` marks consecutive
    sorted values too close (1e-7) to split between. Returns the leaf of every sample
    ``(T, N)``, the split feature and threshold per node ``(T, 16)`` and the
    unnormalised impurity importances ``(T, D)``.
    """
    num_trees, num_samples = gradient.shape
    num_features = order.shape[0]
    trees = np.arange(num_trees)[:, None]
    # offset of each (tree, feature) row in the flattened (T, D, N) work arrays
    rows = (np.arange(num_trees)[:, None] * num_features + np.arange(num_features)) * num_samples
    position = np.arange(num_samples)
    node = np.ones((num_trees, num_samples), dtype=np.int8)
    feature = np.full((num_trees, _NODES), -1)
    threshold = np.zeros((num_trees, _NODES))
    importance = np.zeros((num_trees, num_features))
    squared = gradient**2
    count, total, impurity = _node_stats(gradient, squared, node)
    is_open = (count >= 2) & (impurity > _EPSILON)
    sorted_gradient = np.take(gradient, order, axis=1)  # (T, D, N)

    for depth in range(MAX_DEPTH):
        level = np.arange(2**depth, 2 ** (depth + 1))
        if not is_open[:, level].any():
            break
        # (T, N): the node owning each position, nodes laid out in heap order
        node_at = np.repeat(np.tile(np.arange(_NODES, dtype=np.int8), num_trees), count.ravel())
        node_at = node_at.reshape(num_trees, num_samples)
        start = np.cumsum(count, axis=1) - count  # (T, 16): first position of each node
        node_tree, node_id = np.nonzero(count)  # the nodes in layout order
        # Lay out each node's samples contiguously, sorted by the feature within the node:
        # ``layout[t, f, p]`` is the position in ``order[f]`` of the p-th sample (at the
        # root, the sorted order itself: ``layout`` is None).
        if depth == 0:
            layout = None
            values = np.broadcast_to(sorted_columns, sorted_gradient.shape)
            inseparable = np.broadcast_to(inseparable_sorted, (num_trees, *inseparable_sorted.shape))
            left_sum = np.cumsum(sorted_gradient, axis=-1)
        else:
            layout = np.argsort(np.take(node, order, axis=1), axis=-1, kind="stable")
            values = np.take(sorted_columns, layout + (np.arange(num_features) * num_samples)[:, None])
            inseparable = values[..., 1:] <= values[..., :-1] + _FEATURE_THRESHOLD
            # One running sum that restarts at each node: the first value of a node is
            # lowered by the total of the node laid out before it.
            left_sum = np.take(sorted_gradient, layout + rows[..., None])
            follows = np.flatnonzero(node_tree[1:] == node_tree[:-1]) + 1
            left_sum[node_tree[follows], :, start[node_tree[follows], node_id[follows]]] -= total[
                node_tree[follows - 1], node_id[follows - 1]
            ][:, None]
            np.cumsum(left_sum, axis=-1, out=left_sum)

        # scikit-learn's squared-error proxy of every split "left = node start..p".
        right_sum = total[trees, node_at][:, None] - left_sum
        num_left = (position - start[trees, node_at] + 1).astype(np.float64)[:, None]
        num_right = count[trees, node_at][:, None] - num_left
        with np.errstate(divide="ignore", invalid="ignore"):
            left_sum *= left_sum
            left_sum /= num_left
            right_sum *= right_sum
            right_sum /= num_right
        proxy = left_sum
        proxy += right_sum
        proxy[..., -1] = -np.inf
        np.copyto(proxy[..., :-1], -np.inf, where=inseparable)
        np.copyto(proxy, -np.inf, where=~((num_right > 0) & is_open[trees, node_at][:, None]))

        # Best split per node: the best feature (ties broken at random, as scikit-learn's
        # random feature order does), then its first best position.
        segment_start = (rows[node_tree] + start[node_tree, node_id][:, None]).ravel()
        order_key = np.argsort(segment_start, kind="stable")
        best = np.empty(len(segment_start))
        best[order_key] = np.maximum.reduceat(proxy.ravel(), segment_start[order_key])
        best = best.reshape(len(node_tree), num_features)
        top = best.max(axis=1, keepdims=True)
        tied = (best == top) & np.isfinite(top)
        pick = np.where(tied, random_state.random_sample(tied.shape), -1.0).argmax(axis=1)
        splits = tied.any(axis=1)
        split_tree, split_node, split_feature = node_tree[splits], node_id[splits], pick[splits]
        rows_of_split = proxy[split_tree, split_feature]  # (S, N)
        in_node = (position >= start[split_tree, split_node][:, None]) & (
            position < (start + count)[split_tree, split_node][:, None]
        )
        split_position = np.where(in_node, rows_of_split, -np.inf).argmax(axis=1)

        # Send each sample of a splitting node to its child.
        chosen = np.full((num_trees, _NODES), -1)
        chosen[split_tree, split_node] = split_feature
        cut = np.zeros((num_trees, _NODES), dtype=np.int64)
        cut[split_tree, split_node] = split_position
        chosen_at = chosen[trees, node_at]
        moves = chosen_at >= 0
        t_move, p_move = np.nonzero(moves)
        f_move = chosen_at[moves]
        if layout is None:
            in_order = p_move
        else:
            in_order = np.take(layout, (t_move * num_features + f_move) * num_samples + p_move)
        sample = np.take(order, f_move * num_samples + in_order)
        node[t_move, sample] = 2 * node_at[moves] + (p_move > cut[trees, node_at][moves])
        count, total, child_impurity = _node_stats(gradient, squared, node)

        # scikit-learn's improvement check and impurity importance, per split node.
        left, right = 2 * split_node, 2 * split_node + 1
        n_left, n_right = count[split_tree, left], count[split_tree, right]
        n = n_left + n_right
        parent = impurity[split_tree, split_node]
        improvement = (n / num_samples) * (
            parent
            - n_right / n * child_impurity[split_tree, right]
            - n_left / n * child_impurity[split_tree, left]
        )
        kept = improvement + _EPSILON >= 0
        for t, j in zip(split_tree[~kept], split_node[~kept]):
            node[t, node[t] // 2 == j] = j
        if not kept.all():
            count, total, child_impurity = _node_stats(gradient, squared, node)
        t, j, f, p = split_tree[kept], split_node[kept], split_feature[kept], split_position[kept]
        feature[t, j] = f
        # scikit-learn's threshold: halves of the two float32 values around the cut, in float64
        low, high = values[t, f, p].astype(np.float64), values[t, f, p + 1].astype(np.float64)
        threshold[t, j] = low / 2.0 + high / 2.0
        np.add.at(
            importance,
            (t, f),
            n[kept] * parent[kept]
            - n_left[kept] * child_impurity[t, left[kept]]
            - n_right[kept] * child_impurity[t, right[kept]],
        )
        impurity = child_impurity
        children = np.arange(2 ** (depth + 1), 2 ** (depth + 2))
        is_open = np.zeros_like(is_open)
        is_open[:, children] = (
            (depth + 1 < MAX_DEPTH) & (count[:, children] >= 2) & (impurity[:, children] > _EPSILON)
        )
    return node.astype(np.int64), feature, threshold, importance / num_samples


def _leaf_values(leaf, negative_gradient, targets, num_classes: int) -> np.ndarray:
    """Newton step per leaf ``(T, 16)``: mean negative gradient over mean p (1 - p).

    For more than two classes the step is scaled by (C - 1) / C, as in scikit-learn.
    """
    flat = (leaf + _NODES * np.arange(leaf.shape[0])[:, None]).ravel()
    size = leaf.shape[0] * _NODES
    probability = targets - negative_gradient
    count = np.bincount(flat, minlength=size)
    numerator = np.bincount(flat, weights=negative_gradient.ravel(), minlength=size)
    denominator = np.bincount(flat, weights=(probability * (1 - probability)).ravel(), minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        numerator = numerator / count
        denominator = denominator / count
    if num_classes > 2:
        numerator *= (num_classes - 1) / num_classes
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(np.abs(denominator) < 1e-150, 0.0, numerator / denominator)
    return np.where(count > 0, step, 0.0).reshape(-1, _NODES)
