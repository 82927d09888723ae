"""Training throughput of the conv β-VAE on dSprites at batch 64.

Default: times ``disentangle.train`` against a plain hand-written PyTorch loop of the
same model (same nets, same batch sampling, PyTorch defaults, no allocator or
memory-format tuning), on the CPU. Each measurement runs in a fresh process; the two
alternate, ``--repeats`` times, and the medians and their ratio are printed. Target:
≥ 700 images/s here.

    python benchmarks/train_throughput.py [--steps 300] [--repeats 3]

With ``--models K1,K2,...``: for each K, K models (seeds 0…K−1) trained as one packed
group in one process (``disentangle.train.packed``) against K separate processes
started together, each with ``cores // K`` threads on a CPU (all on the one GPU for
``--device cuda``); images/s summed over the K models and per model, alternating,
``--repeats`` times. K grows until a measurement fails (out of memory), which is
reported and ends the list.

    python benchmarks/train_throughput.py --models 1,2,4,8 --device cpu [--precision fp32] [--batching loop]
"""

from __future__ import annotations

import argparse
import json
import os
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

PACKED = """
import json, sys, pathlib
from disentangle.train import RunConfig
from disentangle.train.packed import train_packed
steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
models, device, threads, precision = int(sys.argv[4]), sys.argv[5], int(sys.argv[6]) or None, sys.argv[7]
batching = sys.argv[8]
configs = [RunConfig.from_keywords("beta-vae", "dsprites", beta=4.0, seed=k, steps=warmup + steps, log_every=warmup,
                                   checkpoint_every=10**9, device=device, threads=threads, precision=precision)
           for k in range(models)]
outs = [out / f"run-{k}" for k in range(models)]
train_packed(outs, configs, batching=batching)
print(sum(json.loads((o / "log.jsonl").read_text().splitlines()[-1])["images_per_second"] for o in outs))
"""

ONE_OF_SEVERAL = """
import json, sys, pathlib
from disentangle.train import train
steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
seed, device, threads, precision = int(sys.argv[4]), sys.argv[5], int(sys.argv[6]) or None, sys.argv[7]
train(out, "beta-vae", "dsprites", beta=4.0, seed=seed, steps=warmup + steps, log_every=warmup,
      checkpoint_every=10**9, device=device, threads=threads, precision=precision, progress=False)
print(json.loads((out / "log.jsonl").read_text().splitlines()[-1])["images_per_second"])
"""


def measure(code: str, steps: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        args = [str(steps), str(warmup), str(Path(folder) / "run")]
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def packed(models: int, args) -> float:
    """Summed images/s of ``models`` models packed in one process."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", PACKED, str(args.steps), str(args.warmup), folder, str(models), args.device,
                   str(_threads(1, args.device)), args.precision, args.batching]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def separate(models: int, args) -> float:
    """Summed images/s of ``models`` processes started together, one model each."""
    with tempfile.TemporaryDirectory() as folder:
        processes = [
            subprocess.Popen([sys.executable, "-c", ONE_OF_SEVERAL, str(args.steps), str(args.warmup),
                              str(Path(folder) / f"run-{k}"), str(k), args.device, str(_threads(models, args.device)),
                              args.precision], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in range(models)
        ]
        outputs = [process.communicate() for process in processes]
    if any(process.returncode for process in processes):
        raise subprocess.CalledProcessError(1, "separate processes", stderr="".join(err for _, err in outputs))
    return sum(float(out.strip().splitlines()[-1]) for out, _ in outputs)


def _threads(processes: int, device: str) -> int:
    """CPU threads of each of ``processes`` processes: the cores shared out on a CPU; 0 (the default) on a GPU."""
    return 0 if device.startswith("cuda") else max(1, (os.cpu_count() or 1) // processes)


def compare_packing(args) -> None:
    """Packed against separate processes for each K of ``args.models``, alternating, repeated."""
    started, rows = time.time(), []
    measure(OURS, args.warmup, args.warmup)  # renders and caches dSprites once, outside the timings
    for models in args.models:
        results: dict[str, list[float]] = {"packed": [], "separate": []}
        try:
            for _ in range(args.repeats):
                results["packed"].append(packed(models, args))
                results["separate"].append(separate(models, args))
        except subprocess.CalledProcessError as error:
            print(f"K = {models}: stopped ({(error.stderr or '').strip().splitlines()[-1:] or 'failed'})")
            break
        rows.append((models, {name: statistics.median(values) for name, values in results.items()}, results))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"conv β-VAE, dSprites, batch 64, device {args.device}, precision {args.precision}, batching "
          f"{args.batching}, {args.steps} timed "
          f"steps, {args.repeats} alternating repeats, {time.time() - started:.0f} s in all")
    print(f"  {'K':>4}  {'packed: summed':>15}  {'per model':>9}  {'separate: summed':>16}  {'per model':>9}  ratio")
    for models, median, _ in rows:
        print(f"  {models:4d}  {median['packed']:15.0f}  {median['packed'] / models:9.0f}  "
              f"{median['separate']:16.0f}  {median['separate'] / models:9.0f}  "
              f"{median['packed'] / median['separate']:.2f}×")
    print(json.dumps([{"models": models, **median, "runs": results} for models, median, results in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", type=lambda text: [int(k) for k in text.split(",")], metavar="K1,K2,...",
                        help="compare K models packed in one process with K separate processes, for each K")
    parser.add_argument("--device", default="cpu", help="with --models: cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", help="with --models: auto, fp32, tf32 or bf16")
    parser.add_argument("--batching", default="vmap", help="with --models: vmap or loop (train_packed's batching)")
    args = parser.parse_args()
    if args.steps % args.warmup:
        parser.error("--steps must be a multiple of --warmup (the loop logs every --warmup steps)")
    if args.models:
        compare_packing(args)
        return
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
