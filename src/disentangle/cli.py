"""The ``disentangle`` command: argument parsing and printing only.

Every subcommand calls a library function a Python user can call too. Bad input
(``InputError``) and diverged training print one line on stderr and exit with code 2;
a sweep in which some run failed exits with code 1. A ``DataChanged`` warning (a run's
data file changed since it was trained) is one line on stderr, and the command goes on.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml

from disentangle import __version__
from disentangle.data import DATASETS
from disentangle.errors import DataChanged, InputError, TrainingDiverged
from disentangle.models import MODELS
from disentangle.train import RunConfig, TrainConfig
from disentangle.train.config import Setting, flag, read_config_file, sections_to_settings
from disentangle.run_folder import last_checkpoint_step

#: training settings with a shorter flag than their field name
_TRAIN_FLAG_ALIASES = {"learning_rate": ["--lr"]}
#: a value that argparse would take for a flag: a negative number such as -1e-4 or -inf
_NEGATIVE_NUMBER = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (naming the command and pointing to its
    help), exit code 2, like every other bad input."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _glue_negative_numbers(argv: list[str]) -> list[str]:
    """``--lr -1e-4`` as ``--lr=-1e-4``: argparse reads a negative number in scientific
    notation as a flag and reports the value missing; glued, the value reaches the
    option's own check (``--learning-rate: must be > 0 and finite, got -1e-4``)."""
    glued, index = [], 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token.startswith("--") and "=" not in token and following and _NEGATIVE_NUMBER.match(following):
            glued.append(f"{token}={following}")
            index += 2
        else:
            glued.append(token)
            index += 1
    return glued


def _hyperparameter_names() -> list[str]:
    """Every model hyperparameter across MODELS (each flag's text is read with the type
    the chosen model gives it, by ``RunConfig``)."""
    names: dict[str, None] = {}
    for cls in MODELS.values():
        names.update(dict.fromkeys(field.name for field in dataclasses.fields(cls.config_class)))
    return list(names)


def _data_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key.replace("-", "_"), yaml.safe_load(value)


def _add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model on a dataset and write a run folder (config.json, checkpoints, log.jsonl, "
        "TensorBoard events). Defaults are disentanglement_lib's.",
    )
    parser.add_argument("--config", type=Path, help="YAML file with sections model, data and train; flags override it")
    parser.add_argument("--model", help=f"one of: {', '.join(sorted(MODELS))} (default beta-vae)")
    parser.add_argument("--data", help=f"one of: {', '.join(sorted(DATASETS))} (default dsprites)")
    parser.add_argument("--data-path", help="file or folder the dataset reads (official dSprites .npz, IDX, ...)")
    parser.add_argument(
        "--data-option", action="append", type=_data_option, default=[], metavar="KEY=VALUE",
        help="further dataset option, repeatable (e.g. split=test, size=64)",
    )
    parser.add_argument("--out", type=Path, help="the run folder to create")
    parser.add_argument("--resume", type=Path, metavar="RUN", help="continue this run folder up to --steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    train_group = parser.add_argument_group("training (TrainConfig)")
    for field in dataclasses.fields(TrainConfig):
        train_group.add_argument(
            flag(field.name), *_TRAIN_FLAG_ALIASES.get(field.name, []), dest=f"train.{field.name}",
            help=f"default {field.default}",
        )
    model_group = parser.add_argument_group("model hyperparameters (each model takes its own subset)")
    for name in _hyperparameter_names():
        model_group.add_argument(flag(name), dest=f"model.{name}")
    parser.set_defaults(handler=_run_train)


def command_line_config(args: argparse.Namespace) -> RunConfig:
    """The ``RunConfig`` of ``train``'s arguments: the ``--config`` file's settings with the
    flags over them, each flag's text read with its field's type (for the chosen model)."""
    settings = sections_to_settings(read_config_file(args.config), str(args.config)) if args.config else {}
    named = {"model.name": ("--model", args.model), "data.name": ("--data", args.data),
             "data.path": ("--data-path", args.data_path)}
    for key, (origin, value) in named.items():
        if value is not None:
            settings[key] = Setting(value, origin)
    for key, value in args.data_option:
        settings[f"data.{key}"] = Setting(value, f"--data-option {key}")
    for dest, value in vars(args).items():
        if dest.startswith(("model.", "train.")) and value is not None:
            settings[dest] = Setting(value, flag(dest.split(".", 1)[1]))
    return RunConfig.from_settings(settings)


def _run_train(args) -> None:
    from disentangle.train import resume, train

    if args.resume is not None:
        named = {"out": args.out, "model": args.model, "data": args.data, "config": args.config,
                 "data_path": args.data_path, "data_option": args.data_option}
        given = [dest.split(".", 1)[1] for dest, value in vars(args).items()
                 if dest.startswith(("model.", "train.")) and value is not None and dest != "train.steps"]
        extra = sorted(given) + [name for name, value in named.items() if value]
        if extra:
            flags = ", ".join(flag(name) for name in extra)
            raise InputError(f"--resume: takes only --steps (the run folder holds every other setting), got {flags}")
        from_start = last_checkpoint_step(args.resume) == 0
        path = resume(args.resume, steps=getattr(args, "train.steps"), progress=not args.no_progress)
        if _is_first_process():
            print(f"{path} had no checkpoint: trained it from step 0 with the settings of its config.json"
                  if from_start else f"resumed {path}")
        return
    config = command_line_config(args)
    if args.out is None:
        raise InputError("--out: required (the run folder to create)")
    path = train(args.out, config, progress=not args.no_progress)
    if _is_first_process():
        print(f"wrote {path}")


def _is_first_process() -> bool:
    """False in the processes of rank ≥ 1 that ``torchrun`` starts; they print nothing."""
    return os.environ.get("RANK", "0") == "0"


# --------------------------------------------------------------------------- looking at runs


def _add_traverse_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "traverse", help="write latent traversal and reconstruction grids of a run",
        description="Write traversal.png (rows: latents by decreasing KL; columns: values from -3 to 3), "
        "traversal.gif (the same sweep animated, around 4 images) and reconstructions.png (inputs above "
        "reconstructions) into the run folder.",
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, help="folder for the images (default: the run folder)")
    parser.add_argument("--seed", type=int, default=0, help="which images are shown")
    parser.set_defaults(handler=_run_traverse)


def _run_traverse(args) -> None:
    from disentangle.train import load_run
    from disentangle.viz import write_traversals

    run = load_run(args.run)
    for path in write_traversals(run.model, run.dataset, args.out or args.run, seed=args.seed):
        print(f"wrote {path}")


def _add_summary_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary", help="print a run in a few lines: files, headline scores, what each latent carries",
        description="Print what RUN trained, the files it holds, the headline scores of its metrics.json and, "
        "for data with factors, the factor each latent carries most of (traversal rows, top to bottom).",
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--seconds", type=float, help="how long making the run took, shown in the first line")
    parser.set_defaults(handler=_run_summary)


def _run_summary(args) -> None:
    from disentangle.summary import summarise

    print(summarise(args.run, args.seconds))


def _add_report_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report of each run, and a comparison of several",
        description="Write RUN/report.html: configuration, training curves, KL per dimension, traversals, "
        "reconstructions, prior samples, metrics and, on factor datasets, latents against factors. "
        "With several runs, also a page comparing them.",
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    parser.add_argument("--baselines", type=Path, help="a folder written by 'disentangle baselines', shown beside the scores")
    parser.add_argument("--out", type=Path, help="the comparison page (default: comparison.html in the runs' common folder)")
    parser.add_argument("--seed", type=int, default=0, help="which images and prior samples are shown")
    parser.set_defaults(handler=_run_report)


def _run_report(args) -> None:
    from disentangle.viz import write_comparison, write_report
    from disentangle.viz.report import COMPARISON_FILE, check_comparison_path, read_baselines

    if len(args.runs) > 1:  # every output and input checked before any page is written
        out = check_comparison_path(
            args.out or Path(os.path.commonpath([run.resolve() for run in args.runs])) / COMPARISON_FILE
        )
    if args.baselines is not None:
        read_baselines(args.baselines)
    for run in args.runs:
        print(f"wrote {write_report(run, seed=args.seed, baselines=args.baselines)}")
    if len(args.runs) > 1:
        print(f"wrote {write_comparison(args.runs, out, seed=args.seed, baselines=args.baselines)}")


def _add_explore_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explore", help="serve a page to explore a run's latent space in the browser",
        description="Serve a local page with one slider per latent (sorted by KL) that decodes the latent "
        "vector live with the run's weights, a button to start from a random dataset image, and the "
        "traversal strip of the latent under the cursor. Runs until Ctrl-C.",
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="which images rank the latents and size sliders")
    parser.set_defaults(handler=_run_explore)


def _run_explore(args) -> None:
    from disentangle.viz.explorer import make_server

    with make_server(args.run, host=args.host, port=args.port, seed=args.seed) as server:
        print(f"exploring {args.run} at {server.url} (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")


# --------------------------------------------------------------------------- scoring


def _print_scores(summary: dict, results: dict | None = None) -> None:
    from disentangle.scoring.evaluate import headline_keys

    for metric, scores in summary.items():
        seconds = ""
        if results and metric in results:
            seconds = f"  ({sum(r['wall_time_s'] for r in results[metric]):.1f} s)"
        keys = headline_keys(metric, scores, fallback=3)
        shown = ", ".join(
            f"{key} {scores[key]['mean']:.4f}" + (f" ± {scores[key]['std']:.4f}" if len(scores[key]["values"]) > 1 else "")
            for key in keys
        )
        print(f"  {metric:28s} {shown}{seconds}")


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None
    if not seeds or any(not 0 <= seed < 2**32 for seed in seeds):
        raise argparse.ArgumentTypeError(f"expected integers in [0, 2^32), got '{text}'")
    return seeds


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _metric_names(text: str) -> list[str]:
    """Metric names as in ``disentangle.metrics.METRICS``; ``factor-vae`` means ``factor_vae``."""
    return [name.replace("-", "_") for name in _names(text)]


def _add_scoring_options(parser) -> None:
    from disentangle.scoring.evaluate import DEFAULT_METRICS

    parser.add_argument("--metrics", type=_metric_names, default=list(DEFAULT_METRICS),
                        help="comma-separated metric names (default: all of dlib's)")
    parser.add_argument("--seed", type=_seeds, default=[0], help="metric seed(s), comma-separated (default 0)")
    parser.add_argument("--preset", default="dlib", help="dlib (default: disentanglement_lib's settings) or fast")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _progress(args):
    """The progress callback of a scoring command: lines on stderr, or none with ``--quiet``."""
    return None if args.quiet else lambda text: print(f"  … {text}", file=sys.stderr, flush=True)


def _add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a run with the disentanglement metrics",
        description="Score the run's latest checkpoint with the metrics (dlib's defaults) and write RUN/metrics.json.",
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--representation", default="mean",
                        help="mean (default: the posterior mean) or sampled (one posterior sample per draw, as dlib's)")
    _add_scoring_options(parser)
    parser.set_defaults(handler=_run_evaluate)


def _run_evaluate(args) -> None:
    from disentangle.scoring.evaluate import METRICS_FILE, evaluate

    content = evaluate(
        args.run, metrics=args.metrics, seeds=args.seed, preset=args.preset, device=args.device,
        progress=_progress(args), representation=args.representation,
    )
    print(f"{args.run} (step {content['checkpoint_step']}, preset {content['preset']}, seeds {content['seeds']}, "
          f"{content['representation']} representation):")
    _print_scores(content["summary"], content["results"])
    encoding = content["encoding"]
    print(f"  encoded {encoding['distinct_images']} distinct images in {encoding['wall_time_s']:.1f} s; "
          f"total {content['wall_time_s']:.1f} s")
    print(f"wrote {Path(args.run) / METRICS_FILE}")


def _add_udr_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "udr", help="rank runs of one model by how alike their latents are (UDR, no labels)",
        description="Score a set of runs of the same data and latent size with the Unsupervised Disentanglement "
        "Ranking (Duan et al. 2020, dlib's settings) and write each run's score into its metrics.json.",
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="run folders, or a folder of runs such as a sweep's output")
    parser.add_argument("--correlation-matrix", default="lasso", help="lasso (default, UDR_L) or spearman (UDR_S)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the sampled observations (default 0)")
    parser.add_argument("--preset", default="dlib", help="dlib (default) or fast (the same settings)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(handler=_run_udr)


def _run_udr(args) -> None:
    from disentangle.scoring.evaluate import METRICS_FILE
    from disentangle.scoring.udr import score_runs

    sections = score_runs(
        args.runs, seed=args.seed, preset=args.preset, device=args.device,
        settings={"correlation_matrix": args.correlation_matrix}, progress=_progress(args),
    )
    print(f"UDR ({sections[0]['settings']['correlation_matrix']}) of {len(sections)} runs, "
          f"{sections[0]['wall_time_s']:.1f} s:")
    for path, section in zip(sections[0]["runs"], sections):
        print(f"  {section['model_score']:.4f}  {path} (step {section['checkpoint_step']})")
    print(f"wrote the udr section of {len(sections)} {METRICS_FILE} files")


def _add_baselines_parser(subparsers) -> None:
    from disentangle.scoring.baselines import BASELINES

    parser = subparsers.add_parser(
        "baselines", help="score raw pixels, PCA, ICA and an untrained VAE",
        description="Score the baselines of Higgins et al. 2017 (Table 1) on a factor dataset; "
        "writes OUT/<baseline>/metrics.json and OUT/baselines.json.",
    )
    parser.add_argument("--data", default="dsprites")
    parser.add_argument("--data-path")
    parser.add_argument("--data-option", action="append", type=_data_option, default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--baselines", type=_names, default=list(BASELINES),
                        help=f"comma-separated, some of {', '.join(BASELINES)}")
    _add_scoring_options(parser)
    parser.set_defaults(handler=_run_baselines)


def _run_baselines(args) -> None:
    from disentangle.scoring.baselines import BASELINES_FILE, evaluate_baselines

    options = dict(args.data_option)
    if args.data_path is not None:
        options["path"] = args.data_path
    summary = evaluate_baselines(
        args.out, data=args.data, data_options=options, baselines=args.baselines,
        metrics=args.metrics, seeds=args.seed, preset=args.preset, progress=_progress(args),
    )
    for kind, scores in summary.items():
        print(f"{kind}:")
        _print_scores(scores)
    print(f"wrote {Path(args.out) / BASELINES_FILE}")


# --------------------------------------------------------------------------- studies


def _add_reproduce_parser(subparsers) -> None:
    from disentangle.reproduce import ALIASES, STUDIES

    parser = subparsers.add_parser(
        "reproduce", help="rerun a published study at a budget that fits the machine (--list names them)",
        description="Train and score every run of a published study (methods × hyperparameters × seeds × datasets) "
        "through the sweep engine, fit its baselines, and write OUT/report.md and OUT/report.html beside the "
        "published values. Running it again skips what is finished and resumes what was interrupted (exit 1 when "
        "a run failed). See docs/reproduce.md.",
    )
    parser.add_argument("study", nargs="?", choices=[*STUDIES, *ALIASES])
    parser.add_argument("--list", action="store_true", help="every study with its budgets and estimated costs")
    parser.add_argument("--budget", choices=["cpu-small", "cpu", "full"], default="cpu-small",
                        help="cpu-small (≤ 45 min on 2 CPU cores, default), cpu (a night) or full (the papers' "
                        "settings: a GPU cluster)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs, their count and estimated cost")
    parser.add_argument("--out", type=Path, help="default runs/reproduce-<study>-<budget>")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, help="runs at once (as for sweep)")
    parser.add_argument("--address", help="a Ray cluster's address (with --executor ray)")
    parser.add_argument("--run", type=_seeds, metavar="N[,M,...]", help="only these run numbers (an array job's "
                        "index; --dry-run shows the numbers); fitted baselines are fitted by a call without --run")
    parser.add_argument("--datasets", type=_names, metavar="NAME[,NAME...]", help="instead of the budget's datasets")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--pack", type=int, default=1, metavar="K",
                        help="train up to K seeds of a method as one stacked model (docs/packing.md; slower than "
                        "separate runs on a CPU)")
    parser.set_defaults(handler=_run_reproduce)


def _list_studies() -> None:
    from disentangle.reproduce import ALIASES, STUDIES, cost, estimate, plan

    for study in STUDIES.values():
        aliases = [alias for alias, name in ALIASES.items() if name == study.name]
        print(f"{study.name}" + "".join(f" (or {alias})" for alias in aliases) + f": {study.citation}")
        for budget in study.budgets:
            totals = estimate(plan(study, budget))
            print(f"  {budget:9s} {totals['runs']:6,} runs, ~{cost.duration(totals['cpu_seconds'])} here, "
                  f"~{totals['gpu_hours']:,.1f} GPU-hours")


def _run_reproduce(args) -> int:
    from disentangle.reproduce import ALIASES, STUDIES, dry_run_lines, reproduce_study

    if args.list:
        _list_studies()
        return 0
    if args.study is None:
        raise InputError("reproduce: name a study (disentangle reproduce --list shows them)")
    out = args.out or Path("runs") / f"reproduce-{args.study}-{args.budget}"
    study = STUDIES[ALIASES.get(args.study, args.study)]
    if args.dry_run:
        for line in dry_run_lines(study, args.budget, args.device, args.datasets):
            print(line)
        return 0
    content = reproduce_study(study, out, args.budget, executor=args.executor, workers=args.workers,
                              address=args.address, device=args.device, datasets=args.datasets, only=args.run,
                              progress=_progress(args), command=_reproduce_command(args, out), pack=args.pack)
    print(f"{out}: " + ", ".join(f"{n} {state}" for state, n in content["counts"].items()))
    for name, error in content["failures"].items():
        print(f"failed {name}: {error}")
    print(f"wrote {out / 'report.md'} and {out / 'report.html'}")
    return 1 if content["failures"] else 0


def _reproduce_command(args, out: Path) -> str:
    """The command line that runs this study again into the same folder."""
    options = [("--executor", args.executor if args.executor != "local" else None), ("--workers", args.workers),
               ("--address", args.address), ("--datasets", ",".join(args.datasets or []) or None),
               ("--device", args.device if args.device != "cpu" else None), ("--pack", args.pack if args.pack > 1 else None)]
    return " ".join([f"disentangle reproduce {args.study} --budget {args.budget} --out {out}",
                     *[f"{flag} {value}" for flag, value in options if value]])


def _add_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a grid of runs from a sweep file",
        description="Expand a sweep file (base config, grid, list, seeds, evaluate; see docs/sweeps.md) into "
        "numbered runs and run them into OUT/runs/<name>. Finished runs are skipped, interrupted ones resumed; "
        "a failed run is reported and the others go on (exit 1 when any failed).",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, help="the sweep's folder")
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="local (default: this machine) or ray (a local Ray instance, or --address)")
    parser.add_argument("--workers", type=int, help="runs at once (local: processes, default 1; ray: CPUs of the "
                        "local instance and runs in flight, default all)")
    parser.add_argument("--run", type=_seeds, metavar="N[,M,...]",
                        help="only these run numbers (an array job's index, e.g. $SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--address", help="a Ray cluster's address (default: start a local Ray instance)")
    parser.add_argument("--pack", type=int, default=1, metavar="K",
                        help="train up to K compatible runs (same model, architecture, data and training settings; "
                        "any seeds and packable hyperparameters) as one stacked model in one process; others run "
                        "alone (default 1; on a CPU slower than separate runs: 0.44-0.92x in docs/benchmarks.md; "
                        "see docs/packing.md)")
    parser.add_argument("--batching", choices=["vmap", "loop"], default="vmap",
                        help="with --pack: one vmap'd pass over a group's models (default) or one model after the other")
    parser.add_argument("--list", action="store_true",
                        help="print the runs' numbered names (with --pack, their groups) and exit")
    parser.set_defaults(handler=_run_sweep)


def _run_sweep(args) -> int:
    from disentangle.sweep import expand_sweep, run_sweep
    from disentangle.sweep.execute import STATUS

    runs = expand_sweep(args.file)
    if args.list:
        from disentangle.sweep.packing import describe_groups, group_runs

        lines = describe_groups(group_runs(runs, args.pack)) if args.pack != 1 else [run.name for run in runs]
        print("\n".join(lines))
        return 0
    if args.out is None:
        raise InputError("--out: required (the sweep's folder)")

    def report(result) -> None:
        detail = {"done": f" ({result.seconds:.1f} s)", "skipped": " (finished before)", "failed": f": {result.error}"}
        print(f"{result.state:7s} {result.name}{detail[result.state]}", flush=True)

    results = run_sweep(runs, args.out, executor=args.executor, workers=args.workers, only=args.run,
                        address=args.address, report=report, pack=args.pack, batching=args.batching)
    counts = {state: sum(result.state == state for result in results) for state in ("done", "skipped", "failed")}
    where = f" (errors in {args.out / STATUS})" if counts["failed"] else ""
    print(f"{args.out}: " + ", ".join(f"{count} {state}" for state, count in counts.items()) + where)
    return 1 if counts["failed"] else 0


def _add_aggregate_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate", help="collect every run's config and scores into one table with figures",
        description="Collect every run folder under DIR into DIR/results.csv and DIR/results.parquet (one row "
        "per run), and draw DIR/figures/: each score's spread per method and the scores' rank correlation.",
    )
    parser.add_argument("dir", type=Path)
    parser.add_argument("--by", type=_names, default=[], metavar="KEY[,KEY...]",
                        help="config columns that split each model into methods in the figures, e.g. model.beta")
    parser.set_defaults(handler=_run_aggregate)


def _run_aggregate(args) -> None:
    from disentangle.scoring.evaluate import METRICS_FILE
    from disentangle.sweep import aggregate
    from disentangle.sweep.aggregate import FIGURES, RESULTS_CSV, RESULTS_PARQUET

    table = aggregate(args.dir, by=args.by)
    unscored = int((~table["scored"].astype(bool)).sum())
    print(f"{len(table)} run(s)" + (f"; {unscored} without {METRICS_FILE} (their scores are empty)" if unscored else ""))
    figures = len(list((args.dir / FIGURES).glob("*.png")))
    print(f"wrote {args.dir / RESULTS_CSV}, {args.dir / RESULTS_PARQUET} and {figures} figure(s) in {args.dir / FIGURES}")


def _add_data_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="list the datasets, check a dataset's files, draw its factors",
        description="list: every dataset, its factors, where it looks for its files and whether they are found "
        "and checked. check: read a dataset's files with every check (shapes, dtypes, counts, label grids, "
        "published MD5s) and cache them. show: a grid with one row per factor sweeping its values, and a GIF "
        "per factor beside it.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every dataset and the state of its files")
    for action, text in (("check", "check a dataset's files"), ("show", "draw a dataset's factors")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help=f"one of: {', '.join(sorted(DATASETS))}")
        sub.add_argument("--data-path", help="the file or folder (default: where the dataset looks, see data list)")
        sub.add_argument("--data-option", action="append", type=_data_option, default=[], metavar="KEY=VALUE")
        if action == "show":
            sub.add_argument("--out", type=Path, required=True, help="the grid's PNG; the GIFs are written beside it")
            sub.add_argument("--seed", type=int, default=0, help="which images are shown")
    parser.set_defaults(handler=_run_data)


def _run_data(args) -> None:
    from disentangle.data import catalogue

    if args.action == "list":
        for entry in catalogue.catalogue():
            factors = ", ".join(f"{name} {size}" for name, size in entry.factors) if entry.factors else "no factors"
            where = f" at {entry.location}" if entry.location else ""
            print(f"{entry.name}: {factors}\n  files: {entry.files or 'none'}{where}: {entry.status}")
        return
    options = dict(args.data_option)
    if args.action == "check":
        for line in catalogue.check_dataset(args.name, args.data_path, **options):
            print(line)
        return
    from disentangle.data import FactorDataset, get_dataset
    from disentangle.viz.dataset import write_dataset_figures

    dataset = get_dataset(args.name, path=args.data_path, **options)
    if not isinstance(dataset, FactorDataset):
        raise InputError(f"data show: '{args.name}' has no ground-truth factors to sweep")
    for path in write_dataset_figures(dataset, args.out, seed=args.seed):
        print(f"wrote {path}")


# --------------------------------------------------------------------------- entry point

#: each subcommand's parser, in the order ``--help`` lists them
SUBCOMMANDS = (
    _add_train_parser, _add_traverse_parser, _add_summary_parser, _add_report_parser, _add_explore_parser,
    _add_evaluate_parser, _add_udr_parser,
    _add_baselines_parser, _add_reproduce_parser, _add_sweep_parser, _add_aggregate_parser, _add_data_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="disentangle", description="Learn, measure and look at disentangled representations.")
    parser.add_argument("--version", action="version", version=f"disentangle {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def _one_line_warnings(command: str) -> Callable:
    """``warnings.showwarning`` that prints a ``DataChanged`` as one line naming the command,
    and any other warning as Python does."""
    shown_by_python = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DataChanged):
            print(f"disentangle {command}: warning: {message}", file=sys.stderr)
        else:
            shown_by_python(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_glue_negative_numbers(sys.argv[1:] if argv is None else list(argv)))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
            code = args.handler(args)
    except (InputError, TrainingDiverged) as error:
        print(f"disentangle {args.command}: error: {error}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
