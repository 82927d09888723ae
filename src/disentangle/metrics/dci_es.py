"""DCI-ES (Eastwood et al. 2023, "DCI-ES: An Extended Disentanglement Framework with
Connections to Identifiability"; reference code andreinicolicioiu/DCI-ES).

Probes of growing capacity learn each factor from the codes; the loss-capacity curve of
each factor says how easily the information can be read out. As the reference's
random-forest probes (``train_model_random_forest.py``, ``configs/random_forest``): per
factor k and per capacity c in ``max_depths``, a scikit-learn forest of ``num_trees``
trees of depth at most c with no limit on their leaves (``max_leaf_nodes=None``),
fitted on ``num_train`` points and scored on ``num_test``:

- a categorical factor (``categorical_factors``: shape, object identity) is classified
  (``RandomForestClassifier``), its loss the error 1 - accuracy, its baseline loss
  l_b = 1 - 1/|V_k| (a uniform guess's error);
- an ordinal factor (position, scale, angle, hue) is regressed on its values scaled to
  [0, 1] (``RandomForestRegressor``), its loss 1 - R^2, its baseline loss l_b = 1
  (a constant prediction's).

For dSprites that is the reference's table ``[2/3, 1, 1, 1, 1]``: only the shape is
classified. ``categorical_factors=None`` takes the dataset's declaration
(``FactorDataset.categorical_factors``); a dataset that declares none has every factor
classified (and the result says so under ``"settings"``). The capacity c itself is the
x axis (the reference plots forests by depth, MLPs by log parameter count). Then:

- the curve is made monotone: the loss at c is the lowest loss of any capacity <= c;
- explicitness E_k = 1 - AULCC_k / Z_k, where AULCC_k is the area (trapezoids) between
  the curve and its lowest loss and Z_k = (c_max - c_min) l_b / 2, half the rectangle
  of the capacity range and the baseline loss. E = 1: the smallest probe already
  reaches the lowest loss; E = 0: the loss falls linearly from l_b to 0 over the
  capacity range; E is at least -1 for classified factors (a regressed factor's loss
  can exceed l_b = 1 where R^2 < 0). E = mean_k E_k (``explicitness``).
- D and C (``disentanglement``, ``completeness``) as in :mod:`disentangle.metrics.dci`,
  from the forests' impurity importances at the capacity with the best mean test score,
  and I (``informativeness_test``/``_train``) that mean score: accuracy for the
  classified factors, R^2 for the regressed ones, as the reference averages them.
- size S = K / L, the number of factors over the number of codes (1: the code is as
  small as the ground truth; smaller: it is larger), the paper's "size relative to the
  ground truth" (the reference code does not compute it).

As in the reference code, the area is measured above each curve's own lowest loss
(``loss_floor="curve"``): E measures how fast a probe reaches what can be read out at
all, not how much that is (that is I), so codes that carry nothing, whose curves stay
flat at l_b, score E near 1. ``loss_floor="zero"`` measures the area above 0, the
paper's l* = 0 (then the same codes score E near -1). The reference probes a fixed
dataset split; ours draws ``num_train`` and ``num_test`` points as dlib's DCI does.
It seeds every forest with one seed; ours draws a seed per forest from
``random_state``, so results do not depend on ``n_jobs``. Invariant to permuting codes
and to monotone maps of each (trees), up to the forests' random feature draws.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from disentangle.errors import InputError
from disentangle.metrics.dci import completeness, disentanglement
from disentangle.metrics.descriptor import metric
from disentangle.metrics.sampling import factor_sizes, sample_points

LOSS_FLOORS = ("curve", "zero")


@metric(
    "dci_es",
    headline=("explicitness", "size", "disentanglement", "completeness", "informativeness_test"),
    fast={"max_depths": (1, 2, 3, 4, 8, 16, 32), "num_trees": 20},
)
def dci_es(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=10_000,
    num_test=5_000,
    batch_size=16,
    max_depths=(1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32),
    num_trees=100,
    max_leaf_nodes=None,
    categorical_factors=None,
    loss_floor="curve",
    n_jobs=None,
) -> dict:
    """DCI-ES: ``{"explicitness", "size", "disentanglement", "completeness",
    "informativeness_train", "informativeness_test", "best_max_depth", "settings"}``;
    ``settings["categorical_factors"]`` holds the factors that were classified.

    Settings (``preset="fast"``: 20 trees, depths 1, 2, 3, 4, 8, 16, 32):

    - ``num_train``, ``num_test``: training and test points (dlib's DCI), drawn
      ``batch_size`` at a time;
    - ``max_depths``: the probes' capacities, at least 2 increasing depths (the reference's);
    - ``num_trees``: trees per forest (the reference's);
    - ``max_leaf_nodes``: leaves per tree at most; ``None``: no limit (the reference's);
    - ``categorical_factors``: factors to classify; ``None``: the dataset's declaration
      (all if none);
    - ``loss_floor``: ``"curve"``, the area above the curve's lowest loss (the reference
      code), or ``"zero"`` (l* = 0);
    - ``n_jobs``: threads per forest; ``None``: the CPUs available (results do not depend on it).
    """
    if (
        not isinstance(max_depths, (list, tuple)) or len(max_depths) < 2
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in max_depths)
        or list(max_depths) != sorted(set(max_depths))
    ):
        raise InputError(
            f"dci_es: max_depths must be at least 2 increasing positive integers, got {max_depths!r}"
        )
    if loss_floor not in LOSS_FLOORS:
        raise InputError(f"dci_es: loss_floor must be one of {', '.join(LOSS_FLOORS)}, got {loss_floor!r}")
    if max_leaf_nodes is not None and (
        isinstance(max_leaf_nodes, bool) or not isinstance(max_leaf_nodes, (int, np.integer)) or max_leaf_nodes < 2
    ):
        raise InputError(
            f"dci_es: max_leaf_nodes must be None or an integer of at least 2, got {max_leaf_nodes!r}"
        )
    sizes = factor_sizes(ground_truth_data)
    categorical = categorical_factor_mask(ground_truth_data, categorical_factors, len(sizes))
    (codes_train, factors_train), (codes_test, factors_test) = sample_points(
        "dci_es", ground_truth_data, representation_function, random_state, [num_train, num_test], batch_size,
        min_codes=2, min_factors=2,
    )
    importance, train_score, test_score = probe_forests(
        codes_train, factors_train, codes_test, factors_test, sizes, categorical, random_state,
        {"max_depths": max_depths, "num_trees": num_trees, "max_leaf_nodes": max_leaf_nodes, "n_jobs": n_jobs},
    )
    capacities, baseline = np.asarray(max_depths, dtype=np.float64), baseline_losses(sizes, categorical)
    explicitness = [
        explicitness_from_curve(capacities, 1.0 - test_score[:, k], baseline[k], loss_floor)
        for k in range(len(sizes))
    ]
    best = int(np.argmax(test_score.mean(axis=1)))
    return {
        "explicitness": float(np.mean(explicitness)),
        "size": len(sizes) / codes_train.shape[1],
        "disentanglement": disentanglement(importance[best]),
        "completeness": completeness(importance[best]),
        "informativeness_train": float(train_score[best].mean()),
        "informativeness_test": float(test_score[best].mean()),
        "best_max_depth": int(max_depths[best]),
        "settings": {"categorical_factors": [int(k) for k in np.flatnonzero(categorical)]},
    }


def categorical_factor_mask(ground_truth_data, categorical_factors, num_factors: int) -> np.ndarray:
    """``(num_factors,)`` bool: which factors are classified. ``categorical_factors`` is a
    list of factor indices, or ``None`` for the dataset's ``categorical_factors`` (every
    factor where the dataset declares none)."""
    if categorical_factors is None:
        categorical_factors = getattr(ground_truth_data, "categorical_factors", None)
        if categorical_factors is None:
            return np.ones(num_factors, dtype=bool)
    try:
        indices = list(categorical_factors)
    except TypeError:
        indices = [None]
    if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k < num_factors for k in indices):
        raise InputError(
            f"dci_es: categorical_factors must be None or factor indices in [0, {num_factors}), "
            f"got {categorical_factors!r}"
        )
    mask = np.zeros(num_factors, dtype=bool)
    mask[np.asarray(indices, dtype=np.int64)] = True
    return mask


def baseline_losses(sizes: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """The reference's l_b per factor ``(K,)``: 1 - 1/|V_k| for a classified factor (a
    uniform guess's error), 1 for a regressed one (a constant's 1 - R^2)."""
    return np.where(categorical, 1.0 - 1.0 / np.asarray(sizes, dtype=np.float64), 1.0)


def probe_forests(x_train, y_train, x_test, y_test, sizes, categorical, random_state, settings):
    """The reference's random-forest probes, one per factor and depth in ``settings["max_depths"]``,
    on codes ``(N, D)`` and integer factors ``(N, K)`` of ``sizes`` values: classifiers for
    the ``categorical`` factors ``(K,)`` bool, regressors on values scaled to [0, 1] for the rest.

    Returns ``(importance (P, D, K), train score (P, K), test score (P, K))`` for the P
    depths; a score is an accuracy (classified) or R^2 (regressed).
    """
    depths, num_factors = settings["max_depths"], y_train.shape[1]
    importance = np.zeros((len(depths), x_train.shape[1], num_factors))
    train_score, test_score = np.zeros((len(depths), num_factors)), np.zeros((len(depths), num_factors))
    scale = np.maximum(np.asarray(sizes, dtype=np.float64) - 1.0, 1.0)
    for d, depth in enumerate(depths):
        for k in range(num_factors):
            forest_class = RandomForestClassifier if categorical[k] else RandomForestRegressor
            train_target, test_target = (
                (y_train[:, k], y_test[:, k]) if categorical[k] else (y_train[:, k] / scale[k], y_test[:, k] / scale[k])
            )
            forest = forest_class(
                n_estimators=settings["num_trees"], max_depth=int(depth),
                max_leaf_nodes=settings["max_leaf_nodes"], n_jobs=settings["n_jobs"],
                random_state=random_state.randint(np.iinfo(np.int32).max),
            ).fit(x_train, train_target)
            importance[d, :, k] = forest.feature_importances_
            train_score[d, k] = forest.score(x_train, train_target)
            test_score[d, k] = forest.score(x_test, test_target)
    return importance, train_score, test_score


def explicitness_from_curve(
    capacities: np.ndarray, losses: np.ndarray, baseline_loss: float, loss_floor: str = "curve"
) -> float:
    """E = 1 - AULCC / Z of one loss-capacity curve (see the module docstring).

    ``capacities`` ``(P,)`` increasing, ``losses`` ``(P,)`` the probes' losses (made
    monotone here), ``baseline_loss`` l_b (a factor with one value has l_b = 0 and scores 1);
    ``loss_floor`` ``"curve"`` measures the area above the curve's lowest loss, ``"zero"`` above 0.
    """
    if baseline_loss <= 0:
        return 1.0
    curve = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    heights = curve - (curve[-1] if loss_floor == "curve" else 0.0)
    area = np.sum(np.diff(capacities) * (heights[:-1] + heights[1:]) / 2.0)
    return float(1.0 - area / ((capacities[-1] - capacities[0]) * baseline_loss / 2.0))



DCI_ES = dci_es.metric
