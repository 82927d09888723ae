"""Figures of what a trained model does: traversals and reconstructions."""

from disentangle.viz.traversal import latent_order, reconstruction_grid, traversal_grid, write_traversals

__all__ = ["latent_order", "reconstruction_grid", "traversal_grid", "write_traversals"]
