"""Does bf16 autocast (or TF32) keep the results of fp32? Loss curves and scores side by side.

Trains the conv β-VAE (β = 4) on dSprites with the same seed under each precision,
then prints each run's logged loss at every logging step, the largest relative
difference of the bf16 (or tf32) curve from fp32's, and the fast-preset MIG and DCI of
each run: the check ``docs/packing.md`` asks for before a precision becomes a default.

    python benchmarks/precision_check.py [--steps 3000] [--device cpu] [--precisions fp32,bf16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from disentangle.evaluate import evaluate
from disentangle.train import train
from disentangle.train.precision import PRECISIONS, has_bf16_instructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="fp32,bf16", help=f"from {', '.join(PRECISIONS[1:])}, fp32 first")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    if precisions[0] != "fp32" or not set(precisions) <= set(PRECISIONS[1:]):
        parser.error(f"--precisions: fp32 first, then some of {', '.join(PRECISIONS[2:])}")
    curves, scores = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for precision in precisions:
            run = train(Path(folder) / precision, "beta-vae", "dsprites", beta=4.0, steps=args.steps,
                        log_every=args.log_every, seed=args.seed, device=args.device, precision=precision,
                        progress=False)
            curves[precision] = [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
            results = evaluate(run, metrics=["mig", "dci"], preset="fast", device=args.device)["results"]
            scores[precision] = {"mig": results["mig"][0]["discrete_mig"],
                                 "dci_disentanglement": results["dci"][0]["disentanglement"]}
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"conv β-VAE, dSprites, batch 64, {args.steps} steps, seed {args.seed}, device {args.device}"
          f" (this CPU {'has' if has_bf16_instructions() else 'has no'} bfloat16 instructions)")
    for precision in precisions:
        gap = max(abs(a - b) / abs(b) for a, b in zip(curves[precision], curves["fp32"]))
        print(f"  {precision:5s} final loss {curves[precision][-1]:9.3f}   largest relative gap to fp32 {gap:.2%}   "
              f"MIG {scores[precision]['mig']:.3f}   DCI disentanglement {scores[precision]['dci_disentanglement']:.3f}")
    print(json.dumps({"curves": curves, "scores": scores}))


if __name__ == "__main__":
    main()
