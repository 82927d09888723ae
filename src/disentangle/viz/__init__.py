"""Figures of what a trained model does: traversals, reconstructions, plots and the HTML report."""

from disentangle.viz.figures import (
    figure_to_png_bytes,
    kl_per_dimension_curves,
    latent_factor_mutual_information,
    latents_against_factors,
    metric_comparison,
    training_curves,
)
from disentangle.viz.report import write_comparison, write_report
from disentangle.viz.traversal import (
    aggregate_posterior_values,
    animated_traversal_gif,
    central_index,
    latent_order,
    prior_samples,
    prior_traversal_grid,
    reconstruction_grid,
    traversal_grid,
    traversal_observations,
    traverse_codes,
    write_traversals,
)

__all__ = [
    "aggregate_posterior_values",
    "animated_traversal_gif",
    "central_index",
    "figure_to_png_bytes",
    "kl_per_dimension_curves",
    "latent_factor_mutual_information",
    "latent_order",
    "latents_against_factors",
    "metric_comparison",
    "prior_samples",
    "prior_traversal_grid",
    "reconstruction_grid",
    "training_curves",
    "traversal_grid",
    "traversal_observations",
    "traverse_codes",
    "write_comparison",
    "write_report",
    "write_traversals",
]
