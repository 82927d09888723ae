"""FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising"; dlib's ``factor_vae.py``).

The global variance of each code dimension is estimated (``ddof=1``) from
``num_variance_estimate`` observations; dimensions whose standard deviation is below
``prune_threshold`` (0.05, dlib's ``prune_dims.threshold``) are dropped. One vote:
pick a factor k uniformly, draw ``batch_size`` factor vectors that all share the first
one's value of k, and vote for the active dimension with the smallest variance
(``ddof=1``) relative to its global variance. The classifier maps each dimension to the
factor that won most of its training votes (first factor on ties); the score is the
fraction of evaluation votes it classifies correctly.

Invariant to permuting code dimensions and to rescaling them by positive factors that
keep each standard deviation on the same side of ``prune_threshold``.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.sampling import check_factors, draw_factors, encode, encode_groups, factor_sizes


@metric(
    "factor_vae",
    headline=("eval_accuracy",),
    fast={"num_train": 2_000, "num_eval": 1_000, "num_variance_estimate": 5_000},
    default=True,
)
def factor_vae_score(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    batch_size=64,
    num_train=10_000,
    num_eval=5_000,
    num_variance_estimate=10_000,
    prune_threshold=0.05,
) -> dict:
    """FactorVAE score: ``{"train_accuracy", "eval_accuracy", "num_active_dims", "settings"}``.

    With no active dimension both accuracies are 0, as in dlib. ``num_active_dims`` counts
    the dimensions kept (dlib reports the total number of dimensions there, ``len`` of its
    boolean mask). Settings (``preset="fast"``: 2,000 / 1,000 votes, 5,000 points for the
    variances):

    - ``batch_size``: points per vote (L), at least 2;
    - ``num_train``, ``num_eval``: training and evaluation votes;
    - ``num_variance_estimate``: points for the global variances;
    - ``prune_threshold``: dimensions with a smaller global standard deviation are dropped.
    """
    if batch_size < 2:
        raise InputError(
            f"factor_vae_score: batch_size must be at least 2 (variances use ddof=1), got {batch_size}"
        )
    sizes = factor_sizes(ground_truth_data)

    factors = draw_factors(ground_truth_data, num_variance_estimate, random_state)
    codes = encode(ground_truth_data, representation_function, check_factors(factors, sizes), random_state)
    global_variances = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_variances) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    def votes(num):
        return _generate_votes(
            ground_truth_data, representation_function, random_state, sizes, num, batch_size, global_variances,
            active,
        )

    train_votes = votes(num_train)
    classifier = np.argmax(train_votes, axis=0)
    dims = np.arange(train_votes.shape[1])
    train_accuracy = train_votes[classifier, dims].sum() / train_votes.sum()
    eval_votes = votes(num_eval)
    eval_accuracy = eval_votes[classifier, dims].sum() / eval_votes.sum()
    return {
        "train_accuracy": float(train_accuracy),
        "eval_accuracy": float(eval_accuracy),
        "num_active_dims": int(active.sum()),
    }


def _generate_votes(
    data, representation_function, random_state, sizes, num_votes, batch_size, global_variances, active
):
    """Vote counts ``(num_factors, num_codes)``, drawn as dlib's ``_generate_training_sample``.

    Column j counts votes for the j-th *active* dimension, as in dlib.
    """
    groups = np.empty((num_votes, batch_size, len(sizes)), dtype=np.int64)
    labels = np.empty(num_votes, dtype=np.int64)
    for i in range(num_votes):
        k = random_state.randint(len(sizes))
        factors = draw_factors(data, batch_size, random_state)
        factors[:, k] = factors[0, k]
        groups[i], labels[i] = factors, k
    check_factors(groups, sizes)

    def least_relative_variance(codes):
        local_variances = np.var(codes[:, :, active], axis=1, ddof=1)
        return np.argmin(local_variances / global_variances[active], axis=1)[:, None]

    argmins = encode_groups(data, representation_function, groups, random_state, least_relative_variance)
    votes = np.zeros((len(sizes), len(global_variances)), dtype=np.int64)
    np.add.at(votes, (labels, argmins[:, 0]), 1)
    return votes



FACTOR_VAE = factor_vae_score.metric
