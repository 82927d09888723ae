"""How closely the procedural dSprites matches the official images.

DeepMind's dSprites repository (github.com/deepmind/dsprites-dataset, Apache 2.0) ships
``dsprites.gif``: 320 frames of the official file that grow, turn and move a heart, then
grow and turn an ellipse and a square. This script identifies each frame's factors,
renders the same factors with ``disentangle.data.dsprites_render`` and prints, per
shape and per traversal, the pixels that differ, the lit pixels of each, and the
official and procedural mean pixel (the official file's is 0.0425).

    python benchmarks/dsprites_geometry.py --gif dsprites.gif
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from disentangle.data import dsprites_render as render

#: (first frame, shape, what moves): each traversal's frames in the GIF's order
TRAVERSALS = [
    (0, 2, "scale"), (18, 2, "orientation"), (58, 2, "posY"), (90, 2, "posX at posY 31"),
    (122, 2, "posY down at posX 31"), (154, 2, "posX back at posY 0"),
    (192, 1, "scale"), (210, 1, "orientation"), (256, 0, "scale"), (274, 0, "orientation"),
]


def frame_factors(first: int, shape: int, moving: str) -> list[tuple[int, tuple[int, int, int, int, int]]]:
    """``(frame, (shape, scale, orientation, posX, posY))`` for one traversal."""
    if moving == "scale":
        return [(first + s, (shape, s, 0, 0, 0)) for s in range(6)]
    if moving == "orientation":
        return [(first + o, (shape, 5, o, 0, 0)) for o in range(40)]
    steps = {
        "posY": lambda j: (0, j), "posX at posY 31": lambda j: (j, 31),
        "posY down at posX 31": lambda j: (31, 31 - j), "posX back at posY 0": lambda j: (31 - j, 0),
    }[moving]
    return [(first + j, (shape, 5, 0, *steps(j))) for j in range(32)]


def procedural_image(factors: tuple[int, int, int, int, int]) -> np.ndarray:
    shape, scale, orientation, pos_x, pos_y = factors
    sprite = render.render_sprite(shape, float(render.factor_values()[1][scale]), orientation)
    return render._positions_view(sprite)[pos_x, pos_y].astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gif", type=Path, required=True, help="dsprites.gif of the official repository")
    args = parser.parse_args()
    frames = np.stack([np.asarray(f.convert("L")) > 127 for f in ImageSequence.Iterator(Image.open(args.gif))])
    if frames.shape != (320, 64, 64):
        sys.exit(f"{args.gif}: expected 320 frames of 64×64, got {frames.shape}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"{'shape':8} {'traversal':22} {'frames':>6} {'differing px':>12} {'official px':>11} {'ours px':>8}")
    for first, shape, moving in TRAVERSALS:
        pairs = frame_factors(first, shape, moving)
        ours = np.stack([procedural_image(f) for _, f in pairs])
        official = frames[[frame for frame, _ in pairs]]
        print(f"{render.SHAPE_NAMES[shape]:8} {moving:22} {len(pairs):6} {int((ours != official).sum()):12} "
              f"{int(official.sum()):11} {int(ours.sum()):8}")
    print(f"mean pixel of the procedural set: {procedural_mean_pixel():.4f} (official file: 0.0425)")


def procedural_mean_pixel() -> float:
    """Lit pixels over all 737,280 images / (737,280 · 4096), from one position per sprite
    (every position shows the whole sprite, so its pixel count is the same up to the lattice)."""
    total = 0
    for shape in range(3):
        for scale in render.factor_values()[1]:
            for orientation in range(render.FACTORS_NUM_VALUES[2]):
                total += render._positions_view(render.render_sprite(shape, float(scale), orientation)).sum(
                    axis=(2, 3), dtype=np.int64).mean()
    return total / (3 * 6 * 40) / render.IMAGE_SIZE**2


if __name__ == "__main__":
    main()
