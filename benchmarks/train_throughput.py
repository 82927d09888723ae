"""Training throughput of the conv β-VAE on dSprites at batch 64, on the CPU.

Times ``disentangle.train`` against a plain hand-written PyTorch loop of the same
model (same nets, same batch sampling, PyTorch defaults, no allocator or memory-format
tuning). Each measurement runs in a fresh process; the two alternate, ``--repeats``
times, and the medians and their ratio are printed. Target: ≥ 700 images/s here.

    python benchmarks/train_throughput.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN_LOOP = """
import sys, time, torch
import torch.nn.functional as F
from disentangle.data import get_dataset
from disentangle.nets.conv import ConvDecoder, ConvEncoder
steps, warmup = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
data = get_dataset("dsprites")
encoder, decoder = ConvEncoder(1, 64, 20), ConvDecoder(10, 1, 64)
optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-4)
generator = torch.Generator().manual_seed(0)
for step in range(warmup + steps):
    if step == warmup:
        start = time.perf_counter()
    x = data.observations(torch.randint(len(data), (64,), generator=generator))
    mean, logvar = encoder(x).chunk(2, 1)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    recon = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum") / 64
    kl = 0.5 * (mean.square() + logvar.exp() - logvar - 1).sum(1).mean()
    loss = recon + 4 * kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(steps * 64 / (time.perf_counter() - start))
"""

OURS = """
import json, sys, pathlib
from disentangle.train import train
steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
train(out, "beta-vae", "dsprites", beta=4.0, steps=warmup + steps, log_every=warmup, checkpoint_every=10**9,
      progress=False)
lines = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
print(lines[-1]["images_per_second"])
"""


def measure(code: str, steps: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        args = [str(steps), str(warmup), str(Path(folder) / "run")]
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.steps % args.warmup:
        parser.error("--steps must be a multiple of --warmup (the loop logs every --warmup steps)")
    measure(OURS, args.warmup, args.warmup)  # renders and caches dSprites once, outside the timings
    results: dict[str, list[float]] = {"disentangle.train": [], "plain PyTorch loop": []}
    started = time.time()
    for _ in range(args.repeats):
        results["disentangle.train"].append(measure(OURS, args.steps, args.warmup))
        results["plain PyTorch loop"].append(measure(PLAIN_LOOP, args.steps, args.warmup))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"conv β-VAE, dSprites, batch 64, {args.steps} timed steps, {args.repeats} alternating repeats, "
          f"{time.time() - started:.0f} s in all")
    for name, values in results.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name:20s} median {statistics.median(values):6.0f} images/s   (runs: {shown})")
    ratio = statistics.median(results["disentangle.train"]) / statistics.median(results["plain PyTorch loop"])
    print(f"  ratio                {ratio:.2f}×")
    print(json.dumps({k: statistics.median(v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
