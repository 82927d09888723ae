"""What the machine gives a process: the CPUs it may run on."""

import os

from disentangle import resources
from disentangle.resources import available_cpus


def test_the_cpus_are_the_affinity_masks_not_the_machines(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cpus() == 2


def test_without_an_affinity_mask_the_machines_count_and_at_least_one(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert available_cpus() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available_cpus() == 1


def test_here_it_lies_between_one_and_the_machines_count():
    assert 1 <= resources.available_cpus() <= (os.cpu_count() or 1)
