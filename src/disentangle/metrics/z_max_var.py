"""Z-max-var (Kim et al. 2019, "Relevance Factor VAE: Learning and Identifying
Disentangled Factors"), the FactorVAE score turned around.

Zaidi et al. 2020's review ("Measuring Disentanglement: A Review of Metrics") names it
"Z-max Variance", beside "Z-min Variance", the FactorVAE score (``factor_vae``).
The FactorVAE score fixes one factor and votes for the code that varies least; here
one factor *varies* and the others are fixed, and the vote goes to the code that
varies most. One vote: pick a factor k uniformly, draw one factor vector, repeat it
``batch_size`` times with factor k drawn anew in each copy, and vote for the active
code with the largest variance (``ddof=1``) relative to its global variance. Global
variances come from ``num_variance_estimate`` points, codes with a standard deviation
below ``prune_threshold`` are left out, and a majority-vote classifier (code -> the
factor that won most of its training votes, the first on ties) is scored on the
evaluation votes.

Settings are Zaidi et al.'s reference's (ubisoft-laforge-disentanglement-metrics,
``z_max_var``): 200 points per vote, 800 training and 800 evaluation votes, 10,000
points for the variances, threshold 0.05. Its result, the headline here, is the
accuracy rescaled above chance, ``eval_accuracy_above_chance`` = (acc - 1/K) / (1 - 1/K)
(0 for a classifier no better than a uniform guess; below 0 if worse); the plain
fraction is ``eval_accuracy``. Where the reference varies factor k over the rows of a
fixed dataset that match the fixed factors (each value as often as the others), ours
draws it uniformly for each copy, as dlib's FactorVAE score draws. The preset of dlib's
FactorVAE score (64 points, 10,000 / 5,000 votes) is ``batch_size=64, num_train=10000,
num_eval=5000``. With no active code every score is 0. Invariant to permuting codes and
to rescaling them by positive factors that keep each standard deviation on the same
side of ``prune_threshold``.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.sampling import check_factors, draw_factors, encode, encode_groups, factor_sizes


@metric(
    "z_max_var",
    headline=("eval_accuracy_above_chance",),
    fast={"num_train": 400, "num_eval": 400, "num_variance_estimate": 5_000},
)
def z_max_var(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    batch_size=200,
    num_train=800,
    num_eval=800,
    num_variance_estimate=10_000,
    prune_threshold=0.05,
) -> dict:
    """Z-max-var: ``{"train_accuracy", "eval_accuracy", "eval_accuracy_above_chance",
    "num_active_dims", "settings"}``.

    Settings, Zaidi et al.'s reference's (``preset="fast"``: 400 / 400 votes, 5,000 points
    for the variances):

    - ``batch_size``: points per vote, at least 2;
    - ``num_train``, ``num_eval``: training and evaluation votes;
    - ``num_variance_estimate``: points for the global variances;
    - ``prune_threshold``: codes with a smaller global standard deviation are left out.
    """
    if batch_size < 2:
        raise InputError(f"z_max_var: batch_size must be at least 2 (variances use ddof=1), got {batch_size}")
    sizes = factor_sizes(ground_truth_data)
    if len(sizes) < 2:
        raise InputError(f"z_max_var: expected at least 2 factors, got {len(sizes)}")

    factors = draw_factors(ground_truth_data, num_variance_estimate, random_state)
    codes = encode(ground_truth_data, representation_function, check_factors(factors, sizes), random_state)
    global_variances = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_variances) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "eval_accuracy_above_chance": 0.0,
                "num_active_dims": 0}

    def votes(num):
        groups, labels = _varying_factor_groups(ground_truth_data, sizes, num, batch_size, random_state)
        winners = encode_groups(
            ground_truth_data, representation_function, groups, random_state,
            lambda codes: _most_relative_variance(codes, global_variances, active),
        )
        return vote_counts(labels, winners[:, 0], len(sizes), len(global_variances))

    train_votes = votes(num_train)
    classifier = np.argmax(train_votes, axis=0)
    eval_accuracy = majority_vote_accuracy(votes(num_eval), classifier)
    chance = 1.0 / len(sizes)
    return {
        "train_accuracy": majority_vote_accuracy(train_votes, classifier),
        "eval_accuracy": eval_accuracy,
        "eval_accuracy_above_chance": (eval_accuracy - chance) / (1.0 - chance),
        "num_active_dims": int(active.sum()),
    }


def _varying_factor_groups(data, sizes, num_votes, batch_size, random_state):
    """``(groups (num_votes, batch_size, K), labels (num_votes,))``: in each group every
    factor but ``labels[i]`` is fixed to one draw, and that one is drawn anew per row."""
    groups = np.empty((num_votes, batch_size, len(sizes)), dtype=np.int64)
    labels = random_state.randint(len(sizes), size=num_votes)
    for i, k in enumerate(labels):
        varying = draw_factors(data, batch_size, random_state)
        groups[i] = varying[0]
        groups[i, :, k] = varying[:, k]
    return check_factors(groups, sizes), labels


def _most_relative_variance(codes, global_variances, active):
    """Per group of codes ``(g, S, D)``, the index (among all D) of the active code with
    the largest variance relative to its global variance: ``(g, 1)``."""
    relative = np.var(codes, axis=1, ddof=1) / np.where(active, global_variances, 1.0)
    return np.argmax(np.where(active, relative, -np.inf), axis=1)[:, None]


def vote_counts(labels: np.ndarray, winners: np.ndarray, num_factors: int, num_codes: int) -> np.ndarray:
    """Votes ``(num_factors, num_codes)``: how often factor k's groups elected code j."""
    votes = np.zeros((num_factors, num_codes), dtype=np.int64)
    np.add.at(votes, (labels, winners), 1)
    return votes


def majority_vote_accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
    """Share of ``votes`` ``(K, D)`` whose code the classifier (code -> factor, ``(D,)``) maps
    to their factor."""
    return float(votes[classifier, np.arange(votes.shape[1])].sum() / votes.sum())



Z_MAX_VAR = z_max_var.metric
