"""Training throughput of the conv β-VAE on dSprites at batch 64.

Default: times ``disentangle.train`` at each of ``--precisions`` against a plain
hand-written PyTorch loop of the same model (same nets, same batch sampling, PyTorch's
defaults: no autocast, no allocator or memory-format tuning), both on ``--device``. Each
measurement runs in a fresh process; they alternate, ``--repeats`` times, and the medians
and each precision's ratio to the plain loop are printed. Targets: ≥ 700 images/s on the
development CPU, ≥ 50,000 on one H100/H200.

    python benchmarks/train_throughput.py [--steps 300] [--repeats 3] [--device cuda] [--precisions fp32,tf32]

Default precisions: fp32 on a CPU, with bf16 where it has bfloat16 instructions
(``has_bf16_instructions``); fp32, tf32 and bf16 on a GPU. The plain loop always runs
PyTorch's default arithmetic: on a GPU that is cuDNN's TF32 convolutions (PyTorch's
``cudnn.allow_tf32`` default) and fp32 matmuls. On a GPU it draws batch indices and
images on the host, as the dataset serves them, and copies each batch over without
waiting for the device.

Images/s count the timed steps that follow ``--warmup`` untimed ones, on clocks read once
the device has finished the work queued: the plain loop synchronises, and
``disentangle.train`` writes a log line only after copying its loss terms to the host.
Beside each figure is the measuring process's peak memory: on a GPU
``torch.cuda.max_memory_allocated``, on a CPU the peak resident set (``ru_maxrss``);
every measurement is a process of its own, so its peak is its own.

With ``--models K1,K2,...``: for each K, K models (seeds 0…K−1) trained as one packed
group in one process (``disentangle.train.packed``) against K separate processes
started together, each with ``cores // K`` threads on a CPU (all on the one GPU for
``--device cuda``); images/s summed over the K models and per model, alternating,
``--repeats`` times, with peak memory (summed over the separate processes). K grows until
a measurement fails (out of memory), which is reported and ends the list. ``--packed-only``
times the packed groups alone (on one GPU, K separate processes make no sense for large K).

    python benchmarks/train_throughput.py --models 1,2,4,8 --device cpu [--precision fp32] [--batching loop]
    python benchmarks/train_throughput.py --models 8,32,128 --packed-only --device cuda

The first line printed is the command, the last a JSON of the figures.
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

#: what every measuring process defines first: the timed rate of a run folder's log, its
#: own peak memory, and the result line the parent reads
MEASURING = """
import json, resource, sys, torch
def timed_rate(run):
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    first, last = lines[0], lines[-1]
    return (last["step"] - first["step"]) * 64 / (last["time"] - first["time"])
def report(images_per_second, device):
    if torch.device(device).type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"images_per_second": images_per_second, "peak_memory_mib": peak}))
"""

#: renders and caches dSprites once, outside the measurements
DATA = "from disentangle.data import get_dataset; get_dataset('dsprites')"

PLAIN_LOOP = MEASURING + """
import time
import torch.nn.functional as F
from disentangle.data import get_dataset
from disentangle.nets.conv import ConvDecoder, ConvEncoder
steps, warmup, device = int(sys.argv[1]), int(sys.argv[2]), torch.device(sys.argv[4])
torch.manual_seed(0)
data = get_dataset("dsprites")
encoder, decoder = ConvEncoder(1, 64, 20).to(device), ConvDecoder(10, 1, 64).to(device)
optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-4)
generator = torch.Generator().manual_seed(0)
def clock():
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
for step in range(warmup + steps):
    if step == warmup:
        start = clock()
    x = data.observations(torch.randint(len(data), (64,), generator=generator)).to(device, non_blocking=True)
    mean, logvar = encoder(x).chunk(2, 1)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    recon = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum") / 64
    kl = 0.5 * (mean.square() + logvar.exp() - logvar - 1).sum(1).mean()
    loss = recon + 4 * kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
report(steps * 64 / (clock() - start), device)
"""

OURS = MEASURING + """
import pathlib
from disentangle.train import train
steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
device, precision = sys.argv[4], sys.argv[5]
train(out, "beta-vae", "dsprites", beta=4.0, steps=warmup + steps, log_every=warmup, checkpoint_every=10**9,
      device=device, precision=precision, progress=False)
report(timed_rate(out), device)
"""

PACKED = MEASURING + """
import pathlib
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
report(sum(timed_rate(o) for o in outs), device)
"""

ONE_OF_SEVERAL = MEASURING + """
import pathlib
from disentangle.train import train
steps, warmup, out = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
seed, device, threads, precision = int(sys.argv[4]), sys.argv[5], int(sys.argv[6]) or None, sys.argv[7]
train(out, "beta-vae", "dsprites", beta=4.0, seed=seed, steps=warmup + steps, log_every=warmup,
      checkpoint_every=10**9, device=device, threads=threads, precision=precision, progress=False)
report(timed_rate(out), device)
"""


def measure(code: str, steps: int, warmup: int, *settings) -> dict[str, float]:
    """``images_per_second`` and ``peak_memory_mib`` of ``code`` run in a fresh process
    (arguments: steps, warmup, a run folder to create, then ``settings``)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", code, str(steps), str(warmup), str(Path(folder) / "run"),
                   *map(str, settings)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def packed(models: int, args) -> dict[str, float]:
    """Summed images/s and peak memory of ``models`` models packed in one process."""
    return measure(PACKED, args.steps, args.warmup, models, args.device, _threads(1, args.device),
                   args.precision, args.batching)


def separate(models: int, args) -> dict[str, float]:
    """Images/s and peak memory, each summed, of ``models`` processes started together, one model each."""
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
    figures = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    return {key: sum(figure[key] for figure in figures) for key in ("images_per_second", "peak_memory_mib")}


def _threads(processes: int, device: str) -> int:
    """CPU threads of each of ``processes`` processes: the cores shared out on a CPU; 0 (the default) on a GPU."""
    return 0 if device.startswith("cuda") else max(1, (os.cpu_count() or 1) // processes)


def _memory_kind(device: str) -> str:
    return "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "peak RSS (ru_maxrss)"


def _medians(measurements: list[dict[str, float]]) -> dict[str, float]:
    keys = ("images_per_second", "peak_memory_mib")
    return {key: statistics.median(m[key] for m in measurements) for key in keys}


def _last_line(error: subprocess.CalledProcessError) -> str:
    return ((error.stderr or "").strip().splitlines() or ["failed"])[-1]


def _print_command() -> None:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)


def compare_packing(args) -> None:
    """Packed against separate processes (or, ``--packed-only``, packed alone) for each K
    of ``args.models``, alternating, repeated; a row printed as each K is measured."""
    started, rows = time.time(), []
    kinds = ["packed"] if args.packed_only else ["packed", "separate"]
    _print_command()
    print(f"conv β-VAE, dSprites, batch 64, device {args.device}, precision {args.precision}, batching "
          f"{args.batching}, {args.steps} timed steps, {args.repeats} alternating repeats; images/s, "
          f"peak memory {_memory_kind(args.device)} in MiB")
    columns = "".join(f"  {kind + ': summed':>16}  {'per model':>9}  {'peak MiB':>9}" for kind in kinds)
    print(f"  {'K':>4}{columns}" + ("" if args.packed_only else "  ratio"), flush=True)
    subprocess.run([sys.executable, "-c", DATA], check=True)
    for models in args.models:
        runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        try:
            for _ in range(args.repeats):
                runs["packed"].append(packed(models, args))
                if not args.packed_only:
                    runs["separate"].append(separate(models, args))
        except subprocess.CalledProcessError as error:
            print(f"  K = {models}: stopped ({_last_line(error)})", flush=True)
            break
        median = {kind: _medians(values) for kind, values in runs.items()}
        line = f"  {models:4d}"
        for kind in kinds:
            rate, peak = median[kind]["images_per_second"], median[kind]["peak_memory_mib"]
            line += f"  {rate:16.0f}  {rate / models:9.0f}  {peak:9.0f}"
        if not args.packed_only:
            ratio = median["packed"]["images_per_second"] / median["separate"]["images_per_second"]
            line += f"  {ratio:.2f}×"
        print(line, flush=True)
        rows.append({
            "models": models,
            **{kind: median[kind]["images_per_second"] for kind in kinds},
            "peak_memory_mib": {kind: median[kind]["peak_memory_mib"] for kind in kinds},
            "runs": {kind: [m["images_per_second"] for m in values] for kind, values in runs.items()},
        })
    print(f"{time.time() - started:.0f} s in all")
    print(json.dumps(rows))


def compare_with_plain_loop(args) -> None:
    """``disentangle.train`` at each of ``args.precisions`` and the plain loop, alternating, repeated."""
    started = time.time()
    _print_command()
    subprocess.run([sys.executable, "-c", DATA], check=True)
    names = {precision: f"disentangle.train {precision}" for precision in args.precisions}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in [*names.values(), "plain PyTorch loop"]}
    try:
        for _ in range(args.repeats):
            for precision, name in names.items():
                runs[name].append(measure(OURS, args.steps, args.warmup, args.device, precision))
            runs["plain PyTorch loop"].append(measure(PLAIN_LOOP, args.steps, args.warmup, args.device))
    except subprocess.CalledProcessError as error:
        sys.exit(f"a measurement failed: {_last_line(error)}")
    print(f"conv β-VAE, dSprites, batch 64, device {args.device}, {args.steps} timed steps, {args.repeats} "
          f"alternating repeats; peak memory {_memory_kind(args.device)}")
    figures = {}
    for name, values in runs.items():
        figures[name] = {**_medians(values), "runs": [m["images_per_second"] for m in values]}
        shown = ", ".join(f"{m['images_per_second']:.0f}" for m in values)
        print(f"  {name:24s} median {figures[name]['images_per_second']:7.0f} images/s   peak "
              f"{figures[name]['peak_memory_mib']:7.0f} MiB   (runs: {shown})")
    plain = figures["plain PyTorch loop"]["images_per_second"]
    ratios = {precision: figures[name]["images_per_second"] / plain for precision, name in names.items()}
    for precision, ratio in ratios.items():
        print(f"  ratio {precision} to the plain loop   {ratio:.2f}×")
    print(f"{time.time() - started:.0f} s in all")
    print(json.dumps({"device": args.device, "memory": _memory_kind(args.device), "measurements": figures,
                      "ratio_to_plain_loop": ratios}))


def default_precisions(device: str) -> list[str]:
    """fp32, tf32 and bf16 on a GPU; fp32 on a CPU, with bf16 where it has bfloat16 instructions."""
    from disentangle.train.precision import has_bf16_instructions

    if device.startswith("cuda"):
        return ["fp32", "tf32", "bf16"]
    return ["fp32", "bf16"] if has_bf16_instructions() else ["fp32"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precisions", type=lambda text: text.split(","), metavar="P1,P2,...",
                        help="without --models: the precisions disentangle.train is timed at "
                        "(default: see the description)")
    parser.add_argument("--models", type=lambda text: [int(k) for k in text.split(",")], metavar="K1,K2,...",
                        help="compare K models packed in one process with K separate processes, for each K")
    parser.add_argument("--packed-only", action="store_true",
                        help="with --models: time the packed groups alone")
    parser.add_argument("--precision", default="auto", help="with --models: auto, fp32, tf32 or bf16")
    parser.add_argument("--batching", default="vmap", help="with --models: vmap or loop (train_packed's batching)")
    args = parser.parse_args()
    if not 1 <= args.warmup <= args.steps or args.steps % args.warmup:
        parser.error("--steps must be a multiple of --warmup (the loop logs every --warmup steps)")
    if args.packed_only and not args.models:
        parser.error("--packed-only: needs --models")
    if args.models:
        compare_packing(args)
        return
    args.precisions = args.precisions or default_precisions(args.device)
    compare_with_plain_loop(args)


if __name__ == "__main__":
    main()
