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

``METRICS`` maps each name to its descriptor (``Metric``: settings, presets, headline
scores, needs); a descriptor is called like its function. Besides the metrics of
dlib's contract it holds the diagnostics of a Gaussian posterior (``elbo_decomposition``,
``active_units``, ``iwae_bound``), whose functions take the posterior rather than the codes.
"""

from __future__ import annotations

from disentangle.metrics.active_units import ACTIVE_UNITS, active_units
from disentangle.metrics.beta_vae import BETA_VAE, beta_vae_score
from disentangle.metrics.dci import DCI, dci
from disentangle.metrics.dci_es import DCI_ES, dci_es
from disentangle.metrics.dcimig import DCIMIG, dcimig
from disentangle.metrics.descriptor import CODES, LIKELIHOOD, NEEDS, POSTERIOR, PRESET_NAMES, Inputs, Metric
from disentangle.metrics.elbo_decomposition import ELBO_DECOMPOSITION, elbo_decomposition
from disentangle.metrics.factor_vae import FACTOR_VAE, factor_vae_score
from disentangle.metrics.infomec import INFOMEC, infomec
from disentangle.metrics.jemmig import JEMMIG, jemmig
from disentangle.metrics.likelihood_bound import IWAE_BOUND, importance_weighted_bound
from disentangle.metrics.mig import MIG, mig
from disentangle.metrics.mig_sup import MIG_SUP, mig_sup
from disentangle.metrics.modularity import MODULARITY_EXPLICITNESS, modularity_explicitness
from disentangle.metrics.sap import SAP, sap
from disentangle.metrics.total_correlation import GAUSSIAN_TOTAL_CORRELATION, gaussian_total_correlation
from disentangle.metrics.z_max_var import Z_MAX_VAR, z_max_var

#: metric name -> descriptor, in the order tables list them (dlib's seven first)
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        BETA_VAE, FACTOR_VAE, MIG, DCI, SAP, MODULARITY_EXPLICITNESS, GAUSSIAN_TOTAL_CORRELATION,
        ELBO_DECOMPOSITION, ACTIVE_UNITS, IWAE_BOUND,
        DCI_ES, INFOMEC, MIG_SUP, DCIMIG, JEMMIG, Z_MAX_VAR,  # after dlib
    )
}
#: preset name -> metric -> settings (see :mod:`disentangle.metrics.presets`)
PRESETS: dict[str, dict[str, dict]] = {
    preset: {name: metric.preset(preset) for name, metric in METRICS.items()} for preset in PRESET_NAMES
}

__all__ = [
    "CODES",
    "LIKELIHOOD",
    "METRICS",
    "NEEDS",
    "POSTERIOR",
    "PRESETS",
    "PRESET_NAMES",
    "Inputs",
    "Metric",
    "active_units",
    "beta_vae_score",
    "dci",
    "dci_es",
    "dcimig",
    "elbo_decomposition",
    "factor_vae_score",
    "gaussian_total_correlation",
    "importance_weighted_bound",
    "infomec",
    "jemmig",
    "mig",
    "mig_sup",
    "modularity_explicitness",
    "sap",
    "z_max_var",
]
