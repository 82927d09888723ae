"""dlib's ``LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5))``: scikit-learn's arithmetic in
fewer Python calls, its folds as independent tasks.

scikit-learn's protocol (``scoring="accuracy"``, lbfgs, 100 iterations, tolerance 1e-4,
multinomial for three classes or more): for each of 5 consecutive folds, the path of 10
values of C from 1e-4 to 1e4 (``np.logspace``), each fit starting from the previous C's
coefficients and minimising the mean log loss plus ``||W||² / (2 C n)`` (n training
points, intercepts not penalised); the C with the largest sum over folds of held-out
accuracy (the first of equals) is refitted on all points, starting from the mean of the
folds' coefficients at that C.

scikit-learn's loss runs some thirty Python calls per lbfgs evaluation around its
compiled per-sample loop, holding the GIL, which costs more than the loop below 1,000
points. :func:`_loss_gradient` computes the same numbers in a few calls: the same BLAS
products and NumPy reductions on arrays of the same layouts, and the same per-sample
loop (:func:`_softmax_loss_gradient`, compiled with numba, releasing the GIL); scipy's
L-BFGS-B then runs as scikit-learn runs it, so that the coefficients, the chosen C and
the predictions are scikit-learn's bit for bit (``tests/metrics/estimators/test_logistic_cv.py``).
The folds of all problems are fitted as separate tasks (then the refits), which keeps
threads busy where whole problems of 3 to 40 classes would not. Two classes (scikit-learn's
binomial loss) are fitted by scikit-learn's ``LogisticRegressionCV`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from disentangle.compiled import compiled

NUM_FOLDS = 5
CS = np.logspace(-4, 4, 10)
MAX_ITER = 100
TOLERANCE = 1e-4
#: scikit-learn's L-BFGS-B options
_LBFGS_OPTIONS = {"maxiter": MAX_ITER, "maxls": 50, "gtol": TOLERANCE, "ftol": 64 * np.finfo(float).eps}


@dataclass
class LinearClassifier:
    """A fitted multinomial logistic regression, predicting as scikit-learn's does."""

    classes: np.ndarray  #: (K,) sorted labels
    coef: np.ndarray  #: (K, D) weights, a view of scikit-learn's layout
    intercept: np.ndarray  #: (K,)
    C: float  #: the inverse regularisation strength chosen

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions ``(N, K)`` of codes ``(N, D)``."""
        return x @ self.coef.T + self.intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(self.decision_function(x), axis=1)]


@dataclass
class _Problem:
    """One classification problem: codes ``x`` ``(N, D)`` float64, labels ``y`` ``(N,)``,
    their sorted ``classes``, class indices ``encoded`` ``(N,)`` float64 and the folds'
    ``(train, test)`` indices (none for two classes)."""

    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    encoded: np.ndarray
    folds: list


def fit_logistic_regression_cv(
    problems: list[tuple[np.ndarray, np.ndarray]], map_tasks: Callable = map
) -> list:
    """dlib's fitted ``LogisticRegressionCV`` for each ``(codes (N, D), labels (N,))`` of
    ``problems`` (each with at least two classes), in their order: a :class:`LinearClassifier`
    for three classes or more, scikit-learn's estimator for two. ``map_tasks`` runs the
    tasks (the folds, then a task per problem), e.g. a thread pool's ``map``."""
    prepared = [_prepare(x, y) for x, y in problems]
    folds = [(i, fold) for i, problem in enumerate(prepared) for fold in range(len(problem.folds))]
    # The costliest first (classes x points), which shortens the wall time in a pool.
    folds.sort(key=lambda task: -len(prepared[task[0]].classes) * len(prepared[task[0]].x))
    paths = dict(zip(folds, map_tasks(lambda task: _fold_path(prepared[task[0]], task[1]), folds)))
    return list(map_tasks(
        lambda i: _finish(prepared[i], [paths[i, fold] for fold in range(len(prepared[i].folds))]),
        range(len(prepared)),
    ))


def _prepare(x: np.ndarray, y: np.ndarray) -> _Problem:
    x = np.ascontiguousarray(x, dtype=np.float64)
    classes = np.unique(y)
    if len(classes) == 2:
        return _Problem(x, y, classes, np.empty(0), [])
    folds = list(KFold(n_splits=NUM_FOLDS).split(x))
    return _Problem(x, y, classes, np.searchsorted(classes, y).astype(np.float64), folds)


def _fold_path(problem: _Problem, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``fold``'s path ``(len(CS), K, D + 1)`` and its held-out accuracies ``(len(CS),)``."""
    train, test = problem.folds[fold]
    coefs = _path(problem.x[train], problem.encoded[train], len(problem.classes), CS)
    x_test, y_test = problem.x[test], problem.y[test]
    predictions = [problem.classes[np.argmax(x_test @ w[:, :-1].T + w[:, -1], axis=1)] for w in coefs]
    return coefs, np.array([np.mean(predicted == y_test) for predicted in predictions])


def _finish(problem: _Problem, paths: list):
    """The classifier of ``problem``: the first best C over the folds' ``paths`` refitted on
    all points from the mean of the folds' coefficients at that C; for two classes,
    scikit-learn's whole fit."""
    if not problem.folds:  # scoring pinned to dlib's, which scikit-learn 1.11 changes to log-loss
        return LogisticRegressionCV(Cs=len(CS), cv=KFold(n_splits=NUM_FOLDS), scoring="accuracy").fit(
            problem.x, problem.y
        )
    best = int(np.argmax(np.array([scores for _, scores in paths]).sum(axis=0)))
    start = np.mean(np.array([coefs[best] for coefs, _ in paths]), axis=0)
    (w,) = _path(problem.x, problem.encoded, len(problem.classes), CS[best : best + 1], start)
    return LinearClassifier(problem.classes, w[:, :-1], w[:, -1], float(CS[best]))


def _path(x, encoded, num_classes: int, cs, start=None) -> np.ndarray:
    """lbfgs fits ``(len(cs), K, D + 1)`` (weights, then intercept) for each C of ``cs`` in
    turn, each starting from the last (the first from ``start`` ``(K, D + 1)``, else zeros),
    laid out as scikit-learn's ``_logistic_regression_path`` returns them."""
    w0 = np.zeros((num_classes, x.shape[1] + 1), order="F")
    if start is not None:
        w0[:, :] = start
    w0 = w0.ravel(order="F")
    work = np.empty((len(x), num_classes)), np.empty(len(x)), np.empty((len(x), num_classes))
    coefs = []
    for c in cs:
        l2_strength = 1.0 / (c * len(x))
        w0 = scipy.optimize.minimize(
            _loss_gradient, w0, method="L-BFGS-B", jac=True, args=(x, encoded, l2_strength, work),
            options=_LBFGS_OPTIONS,
        ).x
        coefs.append(np.reshape(w0, (num_classes, -1), order="F").copy(order="K"))
    return np.stack(coefs)


def _loss_gradient(coef, x, encoded, l2_strength, work):
    """scikit-learn's ``LinearModelLoss(HalfMultinomialLoss).loss_gradient``: the mean log
    loss plus ``l2_strength / 2 ||W||²`` and its gradient, for coefficients ``coef``
    ``(K (D + 1),)`` ravelled in Fortran order (classes of a feature contiguous).

    ``work`` holds the per-sample arrays, raw predictions, losses and gradients
    (``(N, K)``, ``(N,)``, ``(N, K)``), allocated once per path: allocated anew at every
    evaluation, as scikit-learn does, they cost more in page faults than the loss here.
    """
    raw, loss_per_sample, gradient_per_sample = work
    weights = coef.reshape((raw.shape[1], -1), order="F")
    intercept, weights = weights[:, -1], weights[:, :-1]
    np.matmul(x, weights.T, out=raw)
    raw += intercept
    _softmax_loss_gradient(encoded, raw, loss_per_sample, gradient_per_sample)
    loss = float(np.sum(loss_per_sample) / len(x))
    loss += float(0.5 * l2_strength * np.dot(np.ravel(weights, order="K"), np.ravel(weights, order="K")))
    gradient = np.empty((len(weights), x.shape[1] + 1), order="F")
    gradient[:, :-1] = gradient_per_sample.T @ x + l2_strength * weights
    gradient[:, -1] = np.sum(gradient_per_sample, axis=0)
    return loss, gradient.ravel(order="F")


@compiled
def _softmax_loss_gradient(encoded, raw, loss, gradient):
    """Per sample, the log loss ``loss`` ``(N,)`` of raw predictions ``raw`` ``(N, K)`` for
    classes ``encoded`` ``(N,)``, and its gradient ``gradient`` ``(N, K)`` divided by N: the
    operations of scikit-learn's ``CyHalfMultinomialLoss.loss_gradient``, then its division
    (subtracting 1 from the true class only, and dividing in loops that compile to vector
    instructions: the same numbers)."""
    num_samples, num_classes = raw.shape
    p = np.empty(num_classes)
    for i in range(num_samples):
        largest = raw[i, 0]
        for k in range(1, num_classes):
            if largest < raw[i, k]:
                largest = raw[i, k]
        total = 0.0
        for k in range(num_classes):
            p[k] = np.exp(raw[i, k] - largest)
            total += p[k]
        label = int(encoded[i])
        loss[i] = np.log(total) + largest - raw[i, label]
        for k in range(num_classes):
            gradient[i, k] = p[k] / total
        gradient[i, label] -= 1.0
        for k in range(num_classes):
            gradient[i, k] /= num_samples
