"""BetaVAE score (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework"; dlib's ``beta_vae.py``).

One point: pick a factor k uniformly, draw ``batch_size`` pairs of factor vectors that
agree on k, encode both observations of each pair, and average ``|z1 - z2|`` over the
pairs (a vector of length D); its label is k. A classifier learns k from the point;
the score is its accuracy on fresh points.

Protocols:

- ``"dlib"`` (default): scikit-learn ``LogisticRegression()`` with its defaults, as dlib
  (today's defaults: L2, lbfgs, multinomial; dlib's published runs used
  scikit-learn < 0.22, whose default was liblinear one-vs-rest).
- ``"higgins"``: the paper's linear softmax classifier trained with Adagrad at learning
  rate ``learning_rate`` (1e-2), and the shape factor excluded (the factor named
  ``"shape"`` in ``factor_names``, or ``exclude_factors``). The paper does not fix the
  number of steps or the minibatch; we use ``classifier_steps`` minibatches of
  ``classifier_batch_size`` points drawn with replacement from ``random_state``, zero
  initial weights, and Adagrad as in Torch7 (accumulator 0, epsilon 1e-10).

The score is invariant to permuting code dimensions, not to rescaling them (both
classifiers are regularised or trained for a fixed number of steps).
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.logistic import fit_logistic_regression
from disentangle.metrics.sampling import (
    check_factors,
    draw_factors,
    encode_groups,
    excluded_factors,
    factor_sizes,
)


@metric("beta_vae", headline=("eval_accuracy",), fast={"num_train": 2_000, "num_eval": 1_000}, default=True)
def beta_vae_score(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    batch_size=64,
    num_train=10_000,
    num_eval=5_000,
    protocol="dlib",
    exclude_factors=None,
    classifier_steps=10_000,
    classifier_batch_size=64,
    learning_rate=0.01,
) -> dict:
    """BetaVAE score: ``{"train_accuracy", "eval_accuracy", "settings"}``, accuracies in [0, 1].

    Settings (``preset="fast"``: 2,000 training and 1,000 evaluation points):

    - ``batch_size``: pairs per point (L);
    - ``num_train``, ``num_eval``: training and evaluation points;
    - ``protocol``: ``"dlib"`` or ``"higgins"`` (see the module docstring);
    - ``exclude_factors``: factor indices never chosen; ``None``: none (dlib), the shape (Higgins);
    - ``classifier_steps``, ``classifier_batch_size``: Higgins: Adagrad's minibatches and
      points per minibatch;
    - ``learning_rate``: Higgins: Adagrad's step size.
    """
    if protocol not in ("dlib", "higgins"):
        raise InputError(f"beta_vae_score: protocol must be 'dlib' or 'higgins', got {protocol!r}")
    sizes = factor_sizes(ground_truth_data)
    excluded = excluded_factors(ground_truth_data, exclude_factors, protocol == "higgins")
    candidates = np.array([k for k in range(len(sizes)) if k not in excluded])
    if len(candidates) < 2:
        raise InputError(
            f"beta_vae_score: expected at least 2 factors to classify, got {candidates.tolist()}"
        )

    def points(num):
        return _generate_points(
            ground_truth_data, representation_function, random_state, sizes, candidates, num, batch_size
        )

    train_points, train_labels = points(num_train)
    if protocol == "dlib":
        model = fit_logistic_regression(train_points, train_labels, random_state=random_state)
        predict = model.predict
    else:
        predict = _train_softmax(
            train_points, train_labels, candidates, random_state, classifier_steps, classifier_batch_size,
            learning_rate,
        )
    train_accuracy = float(np.mean(predict(train_points) == train_labels))
    eval_points, eval_labels = points(num_eval)
    eval_accuracy = float(np.mean(predict(eval_points) == eval_labels))
    return {"train_accuracy": train_accuracy, "eval_accuracy": eval_accuracy, "settings": {"exclude_factors": excluded}}


def _generate_points(data, representation_function, random_state, sizes, candidates, num_points, batch_size):
    """``(points (num_points, D), labels (num_points,))``, drawn as dlib's ``_generate_training_sample``."""
    pairs = np.empty((num_points, 2 * batch_size, len(sizes)), dtype=np.int64)
    labels = np.empty(num_points, dtype=np.int64)
    for i in range(num_points):
        k = candidates[random_state.randint(len(candidates))]
        first = draw_factors(data, batch_size, random_state)
        second = draw_factors(data, batch_size, random_state)
        second[:, k] = first[:, k]
        pairs[i, :batch_size], pairs[i, batch_size:], labels[i] = first, second, k
    check_factors(pairs, sizes)

    def mean_abs_difference(codes):
        return np.mean(np.abs(codes[:, :batch_size] - codes[:, batch_size:]), axis=1)

    return encode_groups(data, representation_function, pairs, random_state, mean_abs_difference), labels


def _train_softmax(points, labels, classes, random_state, steps, batch, learning_rate):
    """Higgins' classifier: linear softmax, Adagrad on ``steps`` minibatches of ``batch``
    points at ``learning_rate``; returns its ``predict``."""
    targets = np.searchsorted(classes, labels)
    weights = np.zeros((points.shape[1] + 1, len(classes)))
    squared_gradients = np.zeros_like(weights)
    inputs = np.hstack([points, np.ones((len(points), 1))])
    rows = np.arange(batch)
    for _ in range(steps):
        index = random_state.randint(len(points), size=batch)
        logits = inputs[index] @ weights
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        probabilities[rows, targets[index]] -= 1.0
        gradient = inputs[index].T @ probabilities / batch
        squared_gradients += gradient**2
        weights -= learning_rate * gradient / (np.sqrt(squared_gradients) + 1e-10)

    def predict(x):
        return classes[np.argmax(np.hstack([x, np.ones((len(x), 1))]) @ weights, axis=1)]

    return predict



BETA_VAE = beta_vae_score.metric
