"""Minibatch estimators of the aggregate posterior q(z) and its total correlation.

Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs". For a batch of M
observations x_j with Gaussian posteriors q(z|x_j) = N(μ_j, diag σ_j²) and one sample
z_i ~ q(z|x_i) each, drawn from a dataset of N observations, the estimators return
per-sample estimates of log q(z_i) and of log Π_l q(z_il) (the product of the
marginals), shapes ``(M,)``, in nats. With them, E_x KL(q(z|x) ‖ p(z)) splits into

    index-code MI  I_q(x; z)          = E[log q(z|x) − log q(z)]
    total correlation  TC(q(z))       = E[log q(z) − Σ_l log q(z_l)]
    dimension-wise KL  Σ_l KL(q(z_l) ‖ p(z_l)) = E[Σ_l log q(z_l) − log p(z)]

and the three estimates add up, batch by batch, to the Monte Carlo KL estimate
E[log q(z|x) − log p(z)], whichever estimator is used.

- ``mws``, minibatch weighted sampling (Chen's eq. and code): q(z_i) ≈ 1/(NM) Σ_j q(z_i|x_j).
  Its weights sum to 1/N, not 1: where the posteriors overlap, its log q(z) is low by
  about log N and its TC high by about (D−1)·log N; where they do not, log q(z) is low
  by about log M. dlib's ``total_correlation`` is this estimate less the constant
  (D−1)·log(N·M), which it drops as irrelevant to the gradient.
- ``mss``, minibatch stratified sampling (Chen's ``log_importance_weight_matrix``):
  importance weights that sum to 1 per sample, 1/N on the sample's own posterior, so
  log q(z) is estimated without that offset; lower variance, needs M ≥ 2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from disentangle.errors import InputError
from disentangle.models.gaussian import log_density_gaussian


def pairwise_log_density(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log q(z_il | x_j) for every sample i, posterior j and dimension l: ``(M, M, D)``."""
    return log_density_gaussian(z.unsqueeze(1), mean.unsqueeze(0), logvar.unsqueeze(0))


def mws(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int) -> tuple[Tensor, Tensor]:
    """Minibatch weighted sampling: (log q(z_i), log Π_l q(z_il)), each ``(M,)``.

    ``z``, ``mean`` and ``logvar`` are ``(M, D)``; ``dataset_size`` is N.
    """
    log_q = pairwise_log_density(z, mean, logvar)
    log_norm = math.log(z.shape[0] * dataset_size)
    log_qz = torch.logsumexp(log_q.sum(2), dim=1) - log_norm
    log_prod_qzi = (torch.logsumexp(log_q, dim=1) - log_norm).sum(1)
    return log_qz, log_prod_qzi


def log_importance_weight_matrix(batch_size: int, dataset_size: int) -> Tensor:
    """Log weights ``(M, M)`` of minibatch stratified sampling; row i weighs the posteriors j.

    Row i gives 1/N to its own posterior, (N − M + 1)/(N·(M − 1)) to the next one
    (cyclically, j = i + 1 mod M) and 1/(M − 1) to the others: each row sums to 1.
    Chen's code leaves the last row without its stratum weight and gives the one before
    it two; here every row gets exactly one.
    """
    if batch_size < 2:
        raise InputError(f"--batch-size: minibatch stratified sampling needs at least 2, got {batch_size}")
    if dataset_size < batch_size - 1:
        raise InputError(
            f"--dataset-size: must be ≥ the batch size − 1 = {batch_size - 1}, got {dataset_size}"
        )
    n, m = dataset_size, batch_size - 1
    weights = torch.full((batch_size, batch_size), 1 / m, dtype=torch.float64)
    rows = torch.arange(batch_size)
    weights[rows, rows] = 1 / n
    weights[rows, (rows + 1) % batch_size] = (n - m) / (n * m)
    return weights.log()


def mss(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int) -> tuple[Tensor, Tensor]:
    """Minibatch stratified sampling: (log q(z_i), log Π_l q(z_il)), each ``(M,)``.

    ``z``, ``mean`` and ``logvar`` are ``(M, D)``; ``dataset_size`` is N ≥ M − 1.
    """
    log_q = pairwise_log_density(z, mean, logvar)
    log_w = log_importance_weight_matrix(z.shape[0], dataset_size).to(log_q)
    log_qz = torch.logsumexp(log_w + log_q.sum(2), dim=1)
    log_prod_qzi = torch.logsumexp(log_w.unsqueeze(2) + log_q, dim=1).sum(1)
    return log_qz, log_prod_qzi


ESTIMATORS = {"mws": mws, "mss": mss}


def kl_decomposition(
    z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int, estimator: str = "mws"
) -> dict[str, Tensor]:
    """Batch estimates (nats, scalars) of ``index_code_mi``, ``tc`` and ``dimwise_kl``.

    Their sum is the Monte Carlo estimate of the batch-mean KL(q(z|x) ‖ N(0, I)) at ``z``.
    """
    log_qz, log_prod_qzi = ESTIMATORS[estimator](z, mean, logvar, dataset_size)
    log_qz_given_x = log_density_gaussian(z, mean, logvar).sum(1)
    log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    return {
        "index_code_mi": (log_qz_given_x - log_qz).mean(),
        "tc": (log_qz - log_prod_qzi).mean(),
        "dimwise_kl": (log_prod_qzi - log_pz).mean(),
    }
