"""Supervised disentanglement metrics and unsupervised code statistics.

Every metric is ``fn(ground_truth_data, representation_function, random_state,
preset="dlib", **settings) -> dict``:

- ``ground_truth_data``: any object with disentanglement_lib's ``GroundTruthData``
  methods (``num_factors``, ``factors_num_values``, ``observation_shape``,
  ``sample_factors``, ``sample_observations_from_factors``), ours or anyone's;
- ``representation_function``: a batch of observations (NumPy) -> codes ``(N, D)``,
  e.g. the posterior mean of an encoder, PCA, any transform;
- ``random_state``: ``numpy.random.RandomState``, consumed as dlib consumes it.

The result holds dlib's score names and, under ``"settings"``, every setting used.
Defaults are dlib's (see :mod:`disentangle.metrics.presets`); ``preset="fast"`` is a
cheaper approximation. Metrics know nothing of models: they only call these functions.
"""

from __future__ import annotations

from collections.abc import Callable

from disentangle.metrics.active_units import active_units
from disentangle.metrics.beta_vae import beta_vae_score
from disentangle.metrics.dci import dci
from disentangle.metrics.elbo_decomposition import elbo_decomposition
from disentangle.metrics.factor_vae import factor_vae_score
from disentangle.metrics.likelihood_bound import importance_weighted_bound
from disentangle.metrics.mig import mig
from disentangle.metrics.modularity import modularity_explicitness
from disentangle.metrics.presets import PRESETS
from disentangle.metrics.sap import sap
from disentangle.metrics.total_correlation import gaussian_total_correlation

#: metric name (as in ``presets``) -> function
METRICS: dict[str, Callable[..., dict]] = {
    "beta_vae": beta_vae_score,
    "factor_vae": factor_vae_score,
    "mig": mig,
    "dci": dci,
    "sap": sap,
    "modularity_explicitness": modularity_explicitness,
    "gaussian_total_correlation": gaussian_total_correlation,
}

__all__ = [
    "METRICS",
    "PRESETS",
    "active_units",
    "beta_vae_score",
    "dci",
    "elbo_decomposition",
    "factor_vae_score",
    "gaussian_total_correlation",
    "importance_weighted_bound",
    "mig",
    "modularity_explicitness",
    "sap",
]
