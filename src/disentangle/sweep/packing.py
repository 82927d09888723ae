"""A sweep's runs in groups that train together in one process (``sweep --pack K``).

Runs whose configurations share a ``disentangle.train.packed.packing_key`` (one packable
model, architecture, data and training settings; any seeds and any values of the
model's packable hyperparameters) are cut, in run-number order, into groups of at most
K. Every other run is a group of its own and trains alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from disentangle.errors import InputError
from disentangle.sweep.spec import SweepRun
from disentangle.train.packed import packing_key


def group_runs(runs: Sequence[SweepRun], pack: int) -> list[tuple[SweepRun, ...]]:
    """``runs`` in groups of at most ``pack`` packable runs, ordered by their first run's number."""
    if not isinstance(pack, int) or isinstance(pack, bool) or pack < 1:
        raise InputError(f"--pack: must be an integer ≥ 1, got {pack}")
    open_groups: dict[str, list[SweepRun]] = {}
    groups: list[list[SweepRun]] = []
    for run in sorted(runs, key=lambda run: run.number):
        key = packing_key(run.config) if pack > 1 else None
        if key is None:
            groups.append([run])
            continue
        group = open_groups.get(key)
        if group is None or len(group) == pack:
            group = open_groups[key] = []
            groups.append(group)
        group.append(run)
    return [tuple(group) for group in groups]


def describe_groups(groups: Sequence[Sequence[SweepRun]]) -> list[str]:
    """One line per group, as ``sweep --list --pack K`` prints it."""
    lines = []
    for index, group in enumerate(groups):
        if len(group) > 1:
            lines.append(f"group {index} ({len(group)} runs packed): {' '.join(run.name for run in group)}")
            continue
        (run,) = group
        why = "trains alone" if packing_key(run.config) is None else "no other run to pack it with"
        lines.append(f"group {index} (alone, {run.model} {why}): {run.name}")
    return lines
