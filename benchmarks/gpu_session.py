"""One prepared session for a short loan of one GPU: throughput, precision, training, scores.

Meant for a machine with one H100/H200 lent for 15 minutes in all, without internet:
started once in the repository root, it finishes inside ``--budget-s`` (default 540 s;
each phase has a share, checked on the clock, and a phase past its limit is killed with
its children) and leaves everything in ``--out``:

    python benchmarks/gpu_session.py --out gpu-session [--wheels build/gpu-wheels]

It needs Python with a CUDA build of PyTorch and the packages ``disentangle`` imports
(``DEPENDENCIES``); the package runs from ``src/`` (``PYTHONPATH=src``), nothing is
installed from the network. Packages the device lacks come as wheels: run
``scripts/gpu_wheels.sh`` where the registries are reachable, carry ``build/gpu-wheels``
along and pass ``--wheels``; they are installed into ``OUT/site``. The device tool brings
back at most 8 files of ≤ 16 MiB from its ``$OUT``, and the run folders' checkpoints take
about 300 MB, so there write elsewhere and copy the summary, the JSON and an archive of
the rest but the checkpoints (one command line, with ``build/gpu-wheels`` carried)::

    python benchmarks/gpu_session.py --out /tmp/gs --wheels build/gpu-wheels; code=$?;
    cp /tmp/gs/summary.md /tmp/gs/session.json "$OUT"/;
    tar -czf "$OUT"/gpu-session.tgz -C /tmp --exclude='*.safetensors' --exclude=gs/site gs; exit $code

Phases, each a subprocess of the project's benchmark scripts or CLI (its stdout and
stderr kept as ``OUT/phase<N>-<what>.stdout.txt`` / ``.stderr.txt``); a failed phase is
recorded with the end of its stderr and the session goes on where that makes sense:

0. dependencies: each import checked (one line per missing one), installed from
   ``--wheels``, checked again (exit 2 if still missing); the machine recorded.
1. throughput: ``benchmarks/train_throughput.py``: one model (``disentangle.train`` at
   TF32 and bf16 against a plain PyTorch loop), then packed groups of K = 4 (the group
   phase 3 trains), 8, 32, 128 models.
2. precision: ``benchmarks/precision_check.py``, fp32/TF32/bf16, two seeds, MIG; its
   steps (at most 2,000) fitted to the phase's share from phase 1's rate.
3. training: dlib's β-VAE (configs/beta-vae-dsprites.yaml, β = 4) and FactorVAE
   (configs/factor-vae-dsprites.yaml with γ = 30, dlib's grid value; the file's is 35)
   on dSprites, seeds 0–3, planned per model from phase 1's rates: the β-VAEs first, as
   one packed group when phase 1 measured it faster than one model after another, with at
   most half the training time; then the FactorVAEs (two players: they do not pack), one
   after another, with the rest. Each model trains 300,000 steps if its share fits them,
   else the most thousands of steps that fit (said in the summary's first lines).
   Checkpoints at each quarter.
4. scores: ``disentangle evaluate`` of every run (dlib's preset: BetaVAE, FactorVAE, MIG,
   DCI, SAP, modularity), in parallel processes sharing the CPU cores; per model each
   headline score's median and range over seeds.
5. summary: ``OUT/summary.md`` and ``OUT/session.json``: the machine, each phase's
   command lines, figures, seconds and failures, and the issue's targets.

``--tiny --device cpu`` runs every phase in a few steps on small groups with a cheap
metric (about a minute on 2 cores; ``tests/benchmarks/test_gpu_session.py``). Exit code
0 when every phase succeeded, 1 when one failed, 2 when a dependency is missing.

``summary.md`` begins like this (figures invented):

    # GPU session on NVIDIA H100 80GB HBM3
    **trained fewer than 300,000 steps (factor-vae 21,000): the budget did not fit**
    Machine: NVIDIA H100 80GB HBM3 (79.2 GiB), 16 CPU cores, Python 3.12.3, torch 2.11.0+cu130, commit 6b7a73a
    | target | measured | met |
    | one model ≥ 50,000 images/s (disentangle.train, tf32) | 41,200 | no |
    | a packed group ≥ 1,000,000 images/s summed | 1,310,000 (K = 128) | yes |
    | 300,000 steps of one model in under 7 minutes | 7.8 min | no |
    ## 1. throughput: done, 131 s
    `PYTHONPATH=src python benchmarks/train_throughput.py --device cuda --precisions tf32,bf16 ...`
    | one model tf32 images/s | 41,200 | ...
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Dependency:
    """A package ``disentangle`` needs: its distribution, the module imported, where, and
    whether ``scripts/gpu_wheels.sh`` fetches its wheel (else the device's own is expected)."""

    distribution: str
    module: str
    needed_by: str
    carried: bool = True


DEPENDENCIES = (
    Dependency("torch", "torch", "disentangle (everywhere)", carried=False),
    Dependency("numpy", "numpy", "disentangle (everywhere)", carried=False),
    Dependency("scipy", "scipy", "disentangle.metrics", carried=False),
    Dependency("scikit-learn", "sklearn", "disentangle.metrics.estimators.predictors", carried=False),
    Dependency("numba", "numba", "disentangle.metrics.estimators.gbt", carried=False),
    Dependency("safetensors", "safetensors", "disentangle.train.checkpoint", carried=False),
    Dependency("pyyaml", "yaml", "disentangle.train.config"),
    Dependency("pillow", "PIL", "disentangle.data.images"),
    Dependency("tqdm", "tqdm", "disentangle.train.run_log"),
    Dependency("h5py", "h5py", "disentangle.data.shapes3d"),
    Dependency("tensorboard", "tensorboard", "disentangle.train.run_log (torch.utils.tensorboard)"),
    Dependency("protobuf", "google.protobuf", "tensorboard"),
    Dependency("absl-py", "absl", "tensorboard"),
)

#: each phase's share of --budget-s; training takes what the others leave
SHARES = {"dependencies": 0.05, "one model": 0.14, "packed": 0.16, "precision": 0.14, "scores": 0.20,
          "summary": 0.01}
#: steps of each phase-3 run that the issue asks for (dlib's budget), and the tiny mode's
TARGET_STEPS, TINY_STEPS = 300_000, 6
#: the seeds of phase 3 (and the size of its packed group)
SEEDS, TINY_SEEDS = (0, 1, 2, 3), (0, 1)
#: packed groups timed in phase 1 (the first is phase 3's group of one run per seed)
GROUPS, TINY_GROUPS = (4, 8, 32, 128), (2,)
#: a FactorVAE step's cost in units of a β-VAE step (a discriminator and a second
#: optimizer): 1.69 measured on a 2-core CPU in fp32 (1,271 against 752 images/s,
#: docs/reproduce.md, 2026-12-07), not on a GPU; kept higher so the FactorVAE runs fit
FACTOR_VAE_STEP_COST = 2.5
#: seconds a training or scoring process spends before its first step (imports, CUDA, data)
STARTUP_S = 15
#: the share of a later model's planned seconds that an earlier model's overrun may not take
KEPT_FOR_LATER = 0.8
#: seconds of phase 2 besides training (process start, scoring six runs)
PRECISION_OVERHEAD_S = 30
#: the models of phase 3: label → (configuration file, model settings over the file's)
MODELS = {"beta-vae": ("configs/beta-vae-dsprites.yaml", {}),
          "factor-vae": ("configs/factor-vae-dsprites.yaml", {"gamma": 30})}
METRICS, TINY_METRICS = "beta_vae,factor_vae,mig,dci,sap,modularity_explicitness", "mig"
BATCH = 64

#: prints the torch build and the device (argument: the device), as one line of code so that it shows as run
MACHINE = (
    'import json, sys, torch; '
    'device = torch.device(sys.argv[1]); '
    'cuda = device.type == "cuda" and torch.cuda.is_available(); '
    'properties = torch.cuda.get_device_properties(device.index or 0) if cuda else None; '
    'print(json.dumps({"torch": torch.__version__, "cuda_version": torch.version.cuda, '
    '"cuda_available": cuda, "device_name": properties.name if cuda else "cpu", '
    '"device_memory_gib": round(properties.total_memory / 2**30, 1) if cuda else None}))'
)

TRAIN_RUNS = '''"""Phase 3 of benchmarks/gpu_session.py: one configuration file's runs, one per seed,
trained as one packed group (--pack) or one after another."""
import argparse, json, time
from pathlib import Path
from disentangle.train import RunConfig, train
from disentangle.train.config import read_config_file
from disentangle.train.packed import train_packed

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--set", action="append", default=[], metavar="NAME=NUMBER", help="a model setting")
parser.add_argument("--seeds", required=True)
parser.add_argument("--steps", type=int, required=True)
parser.add_argument("--checkpoint-every", type=int, required=True)
parser.add_argument("--device", required=True)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--pack", action="store_true")
args = parser.parse_args()
sections = read_config_file(args.config)
sections["model"].update({name: float(value) for name, value in (item.split("=") for item in args.set)})
train_settings = {"steps": args.steps, "checkpoint_every": args.checkpoint_every, "keep_checkpoints": 1,
                  "device": args.device}
configs = [
    RunConfig.from_dict({**sections, "train": {**sections["train"], **train_settings, "seed": int(seed)}},
                        source=args.config)
    for seed in args.seeds.split(",")
]
outs = [args.out / f"seed-{config.train.seed}" for config in configs]
started = time.perf_counter()
if args.pack:
    train_packed(outs, configs)
    print(json.dumps({"runs": list(map(str, outs)), "seconds": time.perf_counter() - started}), flush=True)
else:
    for out, config in zip(outs, configs):
        train(out, config, progress=False)
        print(json.dumps({"runs": [str(out)], "seconds": time.perf_counter() - started}), flush=True)
'''


# --------------------------------------------------------------------------- the clock and the children


class Budget:
    """The session's seconds: a phase's limit is its share of the budget, never more than
    leaves the later phases theirs."""

    def __init__(self, seconds: float):
        self.seconds, self.started = seconds, time.monotonic()

    def spent(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.seconds - self.spent()

    def limit(self, share: str | None, *later: str) -> float:
        """Seconds for a phase of ``share`` (None: all that is left), keeping the ``later`` phases' shares."""
        left = self.left() - sum(SHARES[name] for name in later) * self.seconds
        return max(0.0, left if share is None else min(SHARES[share] * self.seconds, left))


class Child:
    """A subprocess in the repository root in a process group of its own (so that a kill
    ends its children too), its stdout and stderr written to ``OUT/<label>.stdout.txt`` and
    ``.stderr.txt``, killed after ``limit_s`` seconds, on the CPU cores ``cpus`` (None: all)."""

    alive: ClassVar[set[Child]] = set()  # those not ended yet, killed when the session stops

    def __init__(self, argv: list[str], label: str, out: Path, env: dict[str, str], limit_s: float,
                 cpus: list[int] | None = None):
        self.argv, self.label, self.out, self.env, self.limit_s = argv, label, out, env, limit_s
        self.started, self.seconds, self.timed_out = time.monotonic(), None, False
        with open(out / f"{label}.stdout.txt", "w") as stdout, \
                open(out / f"{label}.stderr.txt", "w") as stderr:
            self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr,
                                            start_new_session=True)
        if cpus:  # before it starts any thread (Python's start-up alone takes far longer)
            with contextlib.suppress(ProcessLookupError):  # it ended already
                os.sched_setaffinity(self.process.pid, cpus)
        Child.alive.add(self)

    def ended(self) -> bool:
        """Whether it has ended, by itself or killed past its limit."""
        if self.seconds is not None:
            return True
        if self.process.poll() is None:
            if time.monotonic() - self.started <= self.limit_s:
                return False
            self.kill()
        self.seconds = round(time.monotonic() - self.started, 1)
        Child.alive.discard(self)
        return True

    def wait(self) -> None:
        try:
            self.process.wait(timeout=max(self.limit_s - (time.monotonic() - self.started), 0.1))
        except subprocess.TimeoutExpired:
            self.kill()
        self.ended()

    def kill(self) -> None:
        """End it and its process group."""
        self.timed_out = self.process.poll() is None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    @property
    def stdout(self) -> str:
        return (self.out / f"{self.label}.stdout.txt").read_text(errors="replace")

    @property
    def failed(self) -> bool:
        return self.timed_out or self.process.returncode != 0

    def record(self) -> dict:
        """What it ran and how it ended, with the last lines of its stderr when it failed."""
        record = {"command": shown_command(self.argv, self.env), "returncode": self.process.returncode,
                  "timed_out": self.timed_out, "seconds": self.seconds, "limit_s": round(self.limit_s, 1),
                  "stdout": f"{self.label}.stdout.txt", "stderr": f"{self.label}.stderr.txt"}
        if self.failed:
            stderr = (self.out / f"{self.label}.stderr.txt").read_text(errors="replace").strip().splitlines()
            record["stderr_tail"] = stderr[-15:]
        return record


def run(argv: list, label: str, session: Session, limit_s: float, phase: Phase) -> Child:
    """Run ``python *argv`` to its end or for ``limit_s`` seconds at most; record it in ``phase``."""
    argv = [sys.executable, *map(str, argv)]
    print(f"  {shown_command(argv, session.env)}  (limit {limit_s:.0f} s)", flush=True)
    child = Child(argv, label, session.out, session.env, limit_s)
    child.wait()
    phase.add(child)
    return child


def shown_command(argv: list[str], env: dict[str, str]) -> str:
    """The command line as run, with its PYTHONPATH, paths inside the repository relative to it."""
    text = shlex.join([f"PYTHONPATH={env.get('PYTHONPATH', '')}", *argv])
    return text.replace(f"{REPO}/", "")


def last_json(text: str):
    """The JSON on the last line of ``text``, or None."""
    lines = text.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None


# --------------------------------------------------------------------------- phases


@dataclass
class Phase:
    """One phase's record: the commands it ran, its figures (numbers), notes, errors and seconds."""

    number: int
    name: str
    status: str = "done"
    seconds: float = 0.0
    commands: list[dict] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, child: Child) -> None:
        """Record an ended command; one that failed fails the phase."""
        record = child.record()
        self.commands.append(record)
        if child.timed_out:
            self.fail(f"{child.label}: killed at its limit of {record['limit_s']:.0f} s")
        elif child.failed:
            self.fail(f"{child.label}: exit code {record['returncode']}")

    def fail(self, error: str) -> None:
        self.status = "failed"
        self.errors.append(error)


class Session:
    """What the phases share: options, output folder, environment, clock, and the figures
    later phases and the summary read."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.tiny, self.device = args, args.tiny, args.device
        self.cuda = args.device.startswith("cuda")
        self.out = args.out.resolve()
        self.site = self.out / "site"
        self.budget = Budget(args.budget_s)
        python_path = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path}
        self.phases: list[Phase] = []
        self.machine: dict = {}
        self.one_model: dict[str, float] = {}  # precision → images/s of disentangle.train
        self.packed: dict[int, float] = {}  # K → summed images/s of a packed group of K
        self.runs: dict[str, list[Path]] = {}  # model → its run folders
        self.steps_trained: dict[str, int] = {}  # model → the least steps its phase-3 runs reached
        self.scores: dict[str, dict[str, list[float]]] = {}  # model → "metric score" → its values over seeds

    @property
    def default_precision(self) -> str:
        """What ``train.precision=auto`` resolves to on the device (``resolve_precision``)."""
        return "tf32" if self.cuda else "fp32"


def missing_dependencies(dependencies: tuple[Dependency, ...]) -> list[Dependency]:
    """The ``dependencies`` whose module cannot be found."""
    importlib.invalidate_caches()
    missing = []
    for dependency in dependencies:
        try:
            found = importlib.util.find_spec(dependency.module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken one
            found = False
        if not found:
            missing.append(dependency)
    return missing


def missing_line(dependency: Dependency) -> str:
    """One line naming a missing dependency, who needs it and what to do."""
    remedy = "carry its wheel and pass --wheels DIR"
    if not dependency.carried:
        remedy = f"install the device's own build, or {remedy} (scripts/gpu_wheels.sh does not fetch it)"
    return (f"missing: {dependency.distribution} (import {dependency.module}), "
            f"needed by {dependency.needed_by}; {remedy}")


def ensure_dependencies(session: Session, phase: Phase) -> list[Dependency]:
    """Check every one of ``DEPENDENCIES``, install the missing ones from ``--wheels`` into ``OUT/site``
    (put first on the later phases' PYTHONPATH) and check again; returns those still missing."""
    missing = missing_dependencies(DEPENDENCIES)
    for dependency in missing:
        print(missing_line(dependency), flush=True)
    phase.figures["missing before installing"] = len(missing)
    if missing and session.args.wheels:
        run(["-m", "pip", "install", "--no-index", "--no-deps", "--find-links", session.args.wheels.resolve(),
             "--target", session.site, *(dependency.distribution for dependency in missing)],
            "phase0-pip-install", session, session.budget.limit("dependencies"), phase)
        sys.path.insert(0, str(session.site))
        session.env["PYTHONPATH"] = os.pathsep.join([str(session.site), session.env["PYTHONPATH"]])
        missing = missing_dependencies(DEPENDENCIES)
        for dependency in missing:
            print(f"still {missing_line(dependency)}", flush=True)
    phase.figures["missing"] = len(missing)
    for dependency in missing:
        phase.fail(missing_line(dependency))
    return missing


def git_commit() -> str:
    """The repository's commit (with ``+ changes`` when the work tree differs from it), or
    ``unknown`` where there is no git or no repository (a copy without .git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True)
        changes = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True,
                                 check=False)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit.stdout.strip() + (" + changes" if changes.stdout.strip() else "")


def phase_dependencies(session: Session, phase: Phase) -> None:
    """Phase 0: the dependencies, then the machine (torch, the device)."""
    if ensure_dependencies(session, phase):
        return
    limit = session.budget.limit("dependencies")
    child = run(["-c", MACHINE, session.device], "phase0-machine", session, limit, phase)
    described = last_json(child.stdout) or {}
    session.machine.update(described)
    if session.cuda and not described.get("cuda_available"):
        phase.fail(f"--device {session.device}: torch {described.get('torch', '?')} sees no CUDA device")
    if described.get("device_memory_gib"):
        phase.figures["device memory GiB"] = described["device_memory_gib"]


def phase_throughput(session: Session, phase: Phase) -> None:
    """Phase 1: one model at the device's precisions against the plain loop, then packed groups."""
    script = REPO / "benchmarks" / "train_throughput.py"
    if session.tiny:
        one = ["--steps", "4", "--warmup", "2", "--repeats", "1"]
        packed = list(one)
    else:
        one = ["--steps", "600", "--warmup", "100", "--repeats", "1"]
        packed = ["--steps", "300", "--warmup", "100", "--repeats", "1"]
    if session.cuda:  # the GPU's default (auto: tf32), and bf16; on a CPU the script's default
        one += ["--precisions", "tf32,bf16"]
    child = run([script, "--device", session.device, *one], "phase1-one-model", session,
                session.budget.limit("one model", "packed", "precision", "scores", "summary"), phase)
    figures = last_json(child.stdout)
    if isinstance(figures, dict):
        for name, measured in figures["measurements"].items():
            precision = name.removeprefix("disentangle.train ")
            label = "plain loop" if name == "plain PyTorch loop" else f"one model {precision}"
            phase.figures[f"{label} images/s"] = measured["images_per_second"]
            phase.figures[f"{label} peak MiB"] = measured["peak_memory_mib"]
            if label != "plain loop":
                session.one_model[precision] = measured["images_per_second"]
        for precision, ratio in figures["ratio_to_plain_loop"].items():
            phase.figures[f"one model {precision} / plain loop"] = ratio
        phase.notes.append(f"peak memory: {figures['memory']} of the measuring process")
    groups = ",".join(map(str, TINY_GROUPS if session.tiny else GROUPS))
    limit = session.budget.limit("packed", "precision", "scores", "summary")
    child = run([script, "--models", groups, "--packed-only", "--device", session.device, *packed],
                "phase1-packed", session, limit, phase)
    for row in packed_rows(child.stdout):
        models, summed = row["models"], row["packed"]
        session.packed[models] = summed
        phase.figures[f"packed K={models} summed images/s"] = summed
        phase.figures[f"packed K={models} per model images/s"] = summed / models
        phase.figures[f"packed K={models} peak MiB"] = row["peak_memory_mib"]["packed"]
    phase.notes += [line.strip() for line in child.stdout.splitlines() if line.strip().startswith("K = ")]


def packed_rows(stdout: str) -> list[dict]:
    """The packed groups measured by ``train_throughput.py --packed-only``: its final JSON or,
    where it was killed before printing that, the table rows it printed as it went."""
    figures = last_json(stdout)
    if isinstance(figures, list):
        return figures
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and all(part.isdigit() for part in parts):
            models, summed, _, peak = map(int, parts)
            rows.append({"models": models, "packed": float(summed),
                         "peak_memory_mib": {"packed": float(peak)}})
    return rows


def precision_steps(limit_s: float, images_per_second: float | None, runs: int) -> int:
    """Steps of each of ``runs`` precision-check runs that fit in ``limit_s`` at
    ``images_per_second``: a multiple of 100 in [200, 2000] (2000 without a rate)."""
    if not images_per_second:
        return 2000
    fitting = (limit_s - PRECISION_OVERHEAD_S) * images_per_second / (BATCH * runs)
    return int(min(2000, max(200, fitting // 100 * 100)))


def phase_precision(session: Session, phase: Phase) -> None:
    """Phase 2: benchmarks/precision_check.py, each precision's loss curve and MIG against fp32's."""
    precisions, seeds = (["fp32", "tf32", "bf16"] if session.cuda else ["fp32", "bf16"]), ["0", "1"]
    limit = session.budget.limit("precision", "scores", "summary")
    slowest = min(session.one_model.values(), default=None)
    steps = 4 if session.tiny else precision_steps(limit, slowest, len(precisions) * len(seeds))
    results = session.out / "precision_check.json"
    command = [REPO / "benchmarks" / "precision_check.py", "--device", session.device,
               "--precisions", ",".join(precisions), "--recipes", "dlib-beta-vae", "--seeds", ",".join(seeds),
               "--steps", steps, "--metrics", "mig", "--json", results]
    child = run(command, "phase2-precision", session, limit, phase)
    phase.figures["steps"] = steps
    if child.failed or not results.is_file():
        return
    recipe = json.loads(results.read_text())["recipes"]["dlib-beta-vae"]
    runs = recipe["runs"]
    for precision, by_seed in runs.items():
        phase.figures[f"{precision} final loss (mean over seeds)"] = statistics.fmean(
            run["curve"][-1] for run in by_seed.values())
        phase.figures[f"{precision} MIG (mean over seeds)"] = statistics.fmean(
            run["scores"]["MIG"] for run in by_seed.values())
        phase.figures[f"{precision} images/s (median over seeds)"] = statistics.median(
            run["images_per_second"] for run in by_seed.values())
        if precision == "fp32":
            continue
        phase.figures[f"{precision} largest loss-curve gap to fp32"] = max(
            max(abs(a - b) / abs(b) for a, b in zip(run["curve"], runs["fp32"][seed]["curve"]))
            for seed, run in by_seed.items())
        outside = recipe["outside"][precision]
        phase.figures[f"{precision} quantities outside fp32's seed range"] = len(outside)
        kept = "keeps fp32's results (final loss and MIG: the mean over seeds inside fp32's seed range)"
        departs = "departs from fp32: " + "; ".join(outside)
        phase.notes.append(f"{precision}: {departs if outside else kept}")
    if recipe["fp32_seed_gap"] is not None:
        phase.figures["fp32 seed-to-seed loss-curve gap"] = recipe["fp32_seed_gap"]


@dataclass(frozen=True)
class TrainingPlan:
    """Phase 3's plan, per model: each run's ``steps`` (the target, or the most that fit),
    the steps its share of the time fits (``fits``), its estimated ``seconds``; and whether
    the β-VAEs train packed."""

    steps: dict[str, int]
    fits: dict[str, int]
    seconds: dict[str, float]
    pack: bool


def plan_training(seconds: float, one_model: float, packed_per_model: float | None, runs: int, target: int,
                  granularity: int, pack: bool | None = None) -> TrainingPlan:
    """How many steps ``runs`` β-VAEs, then ``runs`` FactorVAEs (each step
    ``FACTOR_VAE_STEP_COST`` β-VAE steps), train in ``seconds``: one model after another at
    ``one_model`` images/s, or the β-VAEs as a group at ``packed_per_model`` images/s each
    (None: not measured), used when it is faster (``pack`` None) or as ``pack`` says. The
    models are planned in turn, each with an equal share of the time still unplanned, so
    the β-VAEs (first: they pack, and reach the full budget soonest) take at most half
    and the FactorVAEs whatever the β-VAEs leave. A model's ``steps`` is ``target`` when
    it fits, else the largest multiple of ``granularity`` that does (0 for none)."""
    one_after_another = runs * BATCH / one_model
    grouped = BATCH / packed_per_model if packed_per_model else one_after_another
    pack = grouped < one_after_another if pack is None else pack
    step_seconds = {"beta-vae": grouped if pack else one_after_another,
                    "factor-vae": one_after_another * FACTOR_VAE_STEP_COST}
    unplanned = seconds - len(step_seconds) * STARTUP_S
    steps, fits, planned = {}, {}, {}
    for index, (model, cost) in enumerate(step_seconds.items()):
        share = max(0.0, unplanned) / (len(step_seconds) - index)
        fits[model] = int(share / cost)
        steps[model] = target if fits[model] >= target else fits[model] // granularity * granularity
        planned[model] = STARTUP_S + steps[model] * cost
        unplanned -= steps[model] * cost
    return TrainingPlan(steps, fits, planned, pack)


def _package():
    """Put ``src/`` on this process's path: the package is imported only after phase 0
    checked its dependencies."""
    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))


def last_checkpoint_step(run: Path) -> int:
    """``disentangle.run_folder.last_checkpoint_step``: the step of a run folder's last checkpoint, or 0."""
    _package()
    from disentangle.run_folder import last_checkpoint_step as step

    return step(run)


def phase_training(session: Session, phase: Phase) -> None:
    """Phase 3: the β-VAEs (packed, or one after another), then the FactorVAEs (one after
    another), for as many steps as fit, up to 300,000."""
    seeds = TINY_SEEDS if session.tiny else SEEDS
    one_model = session.one_model.get(session.default_precision)
    if not one_model:
        phase.fail(f"phase 1 measured no rate of one model at {session.default_precision} to plan with")
        return
    packed = session.packed.get(len(seeds))
    limit = session.budget.limit(None, "scores", "summary")
    target = TINY_STEPS if session.tiny else TARGET_STEPS
    plan = plan_training(limit, one_model, packed / len(seeds) if packed else None, len(seeds), target,
                         granularity=1 if session.tiny else 1000, pack=True if session.tiny else None)
    phase.figures["β-VAEs packed (1 yes, 0 no)"] = int(plan.pack)
    for label in MODELS:
        phase.figures[f"{label} steps per run (planned)"] = plan.steps[label]
        phase.figures[f"{label} steps its share fits (estimate)"] = plan.fits[label]
    phase.notes.append(f"planned for {limit:.0f} s from {one_model:,.0f} images/s of one model "
                       f"({session.default_precision})"
                       + (f" and {packed:,.0f} summed of a packed group of {len(seeds)}" if packed else "")
                       + f", a FactorVAE step taken as {FACTOR_VAE_STEP_COST} β-VAE steps (1.69 on a CPU); the β-VAEs "
                       "planned first, with at most half the time")
    if session.tiny:
        phase.notes.append("the tiny mode packs the β-VAEs whatever was measured: the path a GPU takes")
    worker = session.out / "phase3_train.py"
    worker.write_text(TRAIN_RUNS)
    deadline, labels = time.monotonic() + limit, list(MODELS)
    for index, label in enumerate(labels):
        steps = plan.steps[label]
        if steps == 0:
            phase.fail(f"{label}: not even {1 if session.tiny else 1000:,} steps of every run fit in its share")
            continue
        config, settings = MODELS[label]
        folder = session.out / "runs" / label
        later = sum(plan.seconds[other] for other in labels[index + 1:] if plan.steps[other])
        command = [worker, "--config", config, *(f"--set={name}={value}" for name, value in settings.items()),
                   "--seeds", ",".join(map(str, seeds)), "--steps", steps, "--checkpoint-every",
                   -(-steps // 4), "--device", session.device, "--out", folder,
                   *(["--pack"] if plan.pack and label == "beta-vae" else [])]
        limit_s = deadline - time.monotonic() - KEPT_FOR_LATER * later
        child = run(command, f"phase3-{label}", session, limit_s, phase)
        phase.figures[f"{label} seconds"] = child.seconds
        phase.figures[f"{label} seconds estimated"] = plan.seconds[label]
        session.runs[label] = [folder / f"seed-{seed}" for seed in seeds]
        reached = [last_checkpoint_step(run) for run in session.runs[label]]
        session.steps_trained[label] = min(reached)
        phase.figures[f"{label} least steps reached (last checkpoint)"] = min(reached)
        if min(reached) < steps:
            phase.notes.append(f"{label}: the runs reached {min(reached):,} to {max(reached):,} of {steps:,} steps")


def headline_scores(metric: str) -> tuple[str, ...]:
    """``metric``'s headline scores as ``disentangle.metrics`` declares them."""
    _package()
    from disentangle.metrics import METRICS as DESCRIPTORS

    return DESCRIPTORS[metric].headline


def phase_scores(session: Session, phase: Phase) -> None:
    """Phase 4: ``disentangle evaluate`` of every run with a checkpoint, in parallel processes
    on disjoint CPU cores; each headline score's median and range over seeds, per model."""
    runs = [(label, run) for label, folders in session.runs.items() for run in folders
            if last_checkpoint_step(run)]
    if not runs:
        phase.fail("no trained run to score")
        return
    cpus = sorted(os.sched_getaffinity(0))
    per_process = max(1, len(cpus) // len(runs))
    slots = [cpus[i * per_process:(i + 1) * per_process]
             for i in range(min(len(runs), len(cpus) // per_process))]
    threads = {name: str(per_process) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    metrics, preset = (TINY_METRICS, "fast") if session.tiny else (METRICS, "dlib")
    deadline = time.monotonic() + session.budget.limit("scores", "summary")
    phase.notes.append(f"{len(slots)} processes at a time, {per_process} CPU cores each")
    queue, running = list(runs), {}
    while queue or running:
        while queue and len(running) < len(slots):
            if deadline - time.monotonic() < STARTUP_S:
                phase.fail("no time left to score " + ", ".join(str(run) for _, run in queue))
                queue.clear()
                break
            label, run = queue.pop(0)
            free = next(slot for slot in slots if slot not in running.values())
            argv = [sys.executable, "-m", "disentangle", "evaluate", str(run), "--metrics", metrics,
                    "--preset", preset, "--device", session.device, "--quiet"]
            print(f"  {shown_command(argv, session.env)}", flush=True)
            child = Child(argv, f"phase4-{label}-{run.name}", session.out, {**session.env, **threads},
                          deadline - time.monotonic(), free)
            running[child] = free
        time.sleep(0.2)
        for child in [child for child in running if child.ended()]:
            del running[child]
            phase.add(child)
    for label, run in runs:
        if (run / "metrics.json").is_file():
            for metric, scores in json.loads((run / "metrics.json").read_text())["summary"].items():
                for key in headline_scores(metric):
                    if key in scores:
                        session.scores.setdefault(label, {}).setdefault(f"{metric} {key}", []).append(
                            scores[key]["mean"])
    for label in session.runs:
        phase.figures[f"{label} runs scored"] = sum(
            (run / "metrics.json").is_file() for model, run in runs if model == label)


def score_summary(session: Session) -> dict[str, dict[str, dict[str, float]]]:
    """Per model, each headline score's median, least and greatest value over its seeds, and how many."""
    return {label: {name: {"median": statistics.median(values), "min": min(values), "max": max(values),
                           "seeds": len(values)} for name, values in scores.items()}
            for label, scores in session.scores.items()}


# --------------------------------------------------------------------------- summary


def targets(session: Session) -> list[dict]:
    """The issue's targets, each with what was measured and whether it was met (None: not measured)."""
    precision = session.default_precision
    one_model = session.one_model.get(precision)
    best = max(session.packed, key=session.packed.get, default=None)
    minutes = TARGET_STEPS * BATCH / one_model / 60 if one_model else None
    return [
        {"target": f"one model ≥ 50,000 images/s (disentangle.train, {precision}: the device's default)",
         "measured": one_model, "shown": number(one_model),
         "met": None if one_model is None else one_model >= 50_000},
        {"target": "a packed group ≥ 1,000,000 images/s summed", "measured": session.packed.get(best),
         "shown": f"{number(session.packed[best])} (K = {best})" if best else "not measured",
         "met": None if best is None else session.packed[best] >= 1_000_000},
        {"target": "300,000 steps of one model in under 7 minutes (from the one-model rate)",
         "measured": minutes, "shown": f"{minutes:.1f} min" if minutes else "not measured",
         "met": None if minutes is None else minutes < 7},
    ]


def number(value: float | None) -> str:
    """A figure as the summary shows it."""
    if value is None:
        return "not measured"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3g}"


REFERENCE = (
    "Published reference (docs/references.md): Locatello et al. 2019's distribution of each score at "
    "300,000 steps is that of dlib's released trained models (row D6: on dsprites_full the β-VAE with "
    "β = 4 is ids 100–149, FactorVAE with γ = 30 ids 400–449); their scores are not in this repository, "
    "so no range is shown. The nearest published values it holds are best-over-the-grid figures, not "
    "these settings': FactorVAE score ≈ 0.8 for FactorVAE and ≈ 0.7 for β-VAE (Kim & Mnih 2018, K1, K2), "
    "MIG ≈ 0.3–0.4 at best (Chen et al. 2018's estimator, C1)."
)


def summary_markdown(session: Session) -> str:
    """``summary.md``: the loud lines first, the machine, the targets, then each phase."""
    machine, failed = session.machine, [phase for phase in session.phases if phase.status != "done"]
    device = machine.get("device_name", session.device)
    lines = [f"# GPU session on {device}" + (" (tiny mode)" if session.tiny else ""), ""]
    target = TINY_STEPS if session.tiny else TARGET_STEPS
    short = {label: steps for label, steps in session.steps_trained.items() if steps < target}
    if short:
        reached = "; ".join(f"{label} {steps:,}" for label, steps in short.items())
        lines += [f"**trained fewer than {target:,} steps ({reached}): the budget did not fit**", ""]
    if failed:
        names = ", ".join(f"{phase.number} ({phase.name})" for phase in failed)
        lines += [f"**phases failed: {names}**", ""]
    memory = f" ({machine['device_memory_gib']} GiB)" if machine.get("device_memory_gib") else ""
    cuda = f" (CUDA {machine['cuda_version']})" if machine.get("cuda_version") else ""
    command = shlex.join(["python", "benchmarks/gpu_session.py", *session.args.argv])
    lines += [(f"Machine: {device}{memory}, {machine['cpu_count']} CPU cores, Python {machine['python']}, "
               f"torch {machine.get('torch', '?')}{cuda}, commit {machine['git_commit']}, "
               f"host {machine['hostname']}."),
              (f"Session: {session.budget.spent():.0f} s of a {session.budget.seconds:.0f} s budget: "
               f"`{command}`."),
              "",
              "| the issue's target | measured | met |", "| --- | --- | --- |"]
    met = {True: "yes", False: "no", None: "not measured"}
    lines += [f"| {row['target']} | {row['shown']} | {met[row['met']]} |" for row in targets(session)]
    for phase in session.phases:
        lines += ["", f"## {phase.number}. {phase.name}: {phase.status}, {phase.seconds:.0f} s", ""]
        for command in phase.commands:
            end = "killed at its limit" if command["timed_out"] else f"exit {command['returncode']}"
            lines.append(f"- `{command['command']}`: {command['seconds']:.0f} s of "
                         f"{command['limit_s']:.0f} s allowed, {end}, output in {command['stdout']}")
        if phase.figures:
            lines += ["", "| figure | value |", "| --- | ---: |"]
            lines += [f"| {name} | {number(value)} |" for name, value in phase.figures.items()]
        if phase.notes or phase.errors:
            lines += ["", *(f"- {note}" for note in phase.notes),
                      *(f"- **failed**: {error}" for error in phase.errors)]
        for command in phase.commands:
            if "stderr_tail" in command:
                lines += ["", f"The last lines of {command['stderr']}:", "", "```", *command["stderr_tail"],
                          "```"]
        if phase.name == "scores":
            lines += ["", "| model | score | median | range | seeds |", "| --- | --- | ---: | ---: | ---: |"]
            for label, scores in score_summary(session).items():
                lines += [f"| {label} | {name} | {score['median']:.3f} | "
                          f"{score['min']:.3f}–{score['max']:.3f} | {score['seeds']} |"
                          for name, score in scores.items()]
            lines += ["", REFERENCE]
    return "\n".join(lines) + "\n"


def write_results(session: Session) -> None:
    """``session.json`` and ``summary.md`` in the output folder."""
    content = {
        "command": ["python", "benchmarks/gpu_session.py", *session.args.argv], "tiny": session.tiny,
        "device": session.device, "budget_s": session.budget.seconds,
        "seconds": round(session.budget.spent(), 1),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": session.machine,
        "targets": [{key: value for key, value in row.items() if key != "shown"} for row in targets(session)],
        "steps_trained": session.steps_trained, "scores": session.scores,
        "score_summary": score_summary(session),
        "phases": [asdict(phase) for phase in session.phases],
        "failed": [phase.name for phase in session.phases if phase.status != "done"],
    }
    (session.out / "session.json").write_text(json.dumps(content, indent=1))
    (session.out / "summary.md").write_text(summary_markdown(session))


def run_phase(session: Session, number: int, name: str, body) -> Phase:
    """Run one phase's ``body`` and record it; an error of the session's own code fails that phase only."""
    phase = Phase(number, name)
    session.phases.append(phase)
    print(f"phase {number}: {name} ({session.budget.left():.0f} s of the budget left)", flush=True)
    started = time.monotonic()
    try:
        body(session, phase)
    except Exception as error:  # noqa: BLE001 - a bug here must not lose the other phases' results
        traceback.print_exc()
        phase.fail(f"{type(error).__name__}: {error}")
    phase.seconds = round(time.monotonic() - started, 1)
    print(f"phase {number}: {name} {phase.status} in {phase.seconds:.0f} s", flush=True)
    return phase


PHASES = [(1, "throughput", phase_throughput), (2, "precision", phase_precision),
          (3, "training", phase_training), (4, "scores", phase_scores)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder for every result")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--budget-s", type=float, default=540, help="seconds the whole session may take")
    parser.add_argument("--wheels", type=Path, help="a folder of wheels of the missing packages (no network)")
    parser.add_argument("--tiny", action="store_true", help="a few steps of every phase, to check the script")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: not empty (an earlier session's results would mix with these)")
    args.argv = sys.argv[1:] if argv is None else list(argv)
    session = Session(args)
    session.machine = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                       "cpus_usable": len(os.sched_getaffinity(0)), "git_commit": git_commit(),
                       "hostname": platform.node()}
    session.out.mkdir(parents=True, exist_ok=True)
    try:
        if run_phase(session, 0, "dependencies", phase_dependencies).status == "done":
            for number, name, body in PHASES:
                run_phase(session, number, name, body)
            failures = sum(phase.status != "done" for phase in session.phases)
            figures = {"phases failed": failures, "seconds in all": round(session.budget.spent(), 1)}
            session.phases.append(Phase(5, "summary", figures=figures))
        write_results(session)
    finally:
        for child in list(Child.alive):
            child.kill()
    print((session.out / "summary.md").read_text(), flush=True)
    if session.phases[0].status != "done":
        return 2
    return 1 if any(phase.status != "done" for phase in session.phases) else 0


if __name__ == "__main__":
    sys.exit(main())
