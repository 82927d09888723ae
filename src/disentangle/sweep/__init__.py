"""Sweeps: grids of runs from a YAML file, run locally or on Ray, and their aggregate.

``expand_sweep(file)`` lists the runs, ``run_sweep(file, out)`` runs them (skipping
the finished, resuming the interrupted, reporting the failed), and ``aggregate(out)``
collects every run's configuration and scores into one table with figures.
"""

from disentangle.sweep.aggregate import aggregate, collect
from disentangle.sweep.execute import RunResult, run_one
from disentangle.sweep.executors import run_sweep
from disentangle.sweep.spec import Evaluation, SweepRun, expand_sweep

__all__ = [
    "Evaluation",
    "RunResult",
    "SweepRun",
    "aggregate",
    "collect",
    "expand_sweep",
    "run_one",
    "run_sweep",
]
