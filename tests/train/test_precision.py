"""The precision a run trains in: what ``auto`` resolves to, from the CPU's flags or the
device, and that a run records it."""

from __future__ import annotations

import json

import pytest
import torch

from disentangle.errors import InputError
from disentangle.train import RunConfig, resume, train
from disentangle.train import loop as loop_module
from disentangle.train import packed as packed_module
from disentangle.train.packed import train_packed
from disentangle.train.precision import (
    autocast,
    configure_matmuls,
    cpu_flags,
    has_bf16_instructions,
    resolve_precision,
    resumed_precision,
)

AVX2_ONLY = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})


def test_cpu_flags_are_read_from_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "amx_bf16"}
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(str(tmp_path / "arm")) == {"fp", "asimd", "bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(AVX2_ONLY, False), (AVX2_ONLY | {"avx512_bf16"}, True), (AVX2_ONLY | {"amx_bf16"}, True),
     (frozenset(), False)],
)
def test_bfloat16_instructions_are_told_by_the_cpus_flags(flags, expected):
    assert has_bf16_instructions(flags) is expected


def test_auto_is_fp32_on_any_cpu_tf32_on_a_gpu_and_a_named_precision_is_kept():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("auto", "cuda:0") == "tf32"
    for precision in ("fp32", "tf32", "bf16"):
        assert resolve_precision(precision, "cpu") == precision


def test_bf16_autocasts_the_forward_pass_and_the_others_leave_it_float32():
    layer = torch.nn.Linear(3, 2)
    x = torch.ones(4, 3)
    with autocast("bf16", "cpu"):
        assert layer(x).dtype == torch.bfloat16
    for precision in ("fp32", "tf32"):
        with autocast(precision, "cpu"):
            assert layer(x).dtype == torch.float32


def test_matmul_settings_are_left_alone_on_a_cpu():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    configure_matmuls("tf32", "cpu")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_a_run_records_what_auto_resolved_to_and_refuses_an_unknown_precision(tmp_path, small_mlp):
    run = train(tmp_path / "run", "vae", "digits", steps=1, batch_size=4, architecture=small_mlp, progress=False)
    written = json.loads((run / "config.json").read_text())
    assert written["train"]["precision"] == "auto"
    assert written["environment"]["precision"] == resolve_precision("auto", "cpu")
    with pytest.raises(InputError, match=r"^--precision: must be one of auto, fp32, tf32, bf16, got '?fp16'?$"):
        train(tmp_path / "bad", "vae", "digits", steps=1, precision="fp16", progress=False)


@pytest.mark.slow
def test_a_bf16_run_follows_the_fp32_runs_loss_curve(tmp_path, small_mlp):
    common = {"steps": 20, "batch_size": 32, "architecture": small_mlp, "learning_rate": 1e-2, "log_every": 5,
              "progress": False}
    curves = {}
    for precision in ("fp32", "bf16"):
        run = train(tmp_path / precision, "beta-vae", "digits", beta=4.0, precision=precision, **common)
        curves[precision] = [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert curves["fp32"][-1] < curves["fp32"][0]
    assert curves["bf16"] == pytest.approx(curves["fp32"], rel=0.05)


def test_a_resumed_run_keeps_the_precision_auto_meant_when_it_started():
    started_as = {"environment": {"precision": "bf16"}}
    assert resumed_precision("auto", started_as, "cpu") == "bf16"
    assert resumed_precision("fp32", started_as, "cpu") == "fp32"  # a named precision is what it names
    assert resumed_precision("auto", {}, "cpu") == resolve_precision("auto", "cpu")  # a folder that records none
    assert resumed_precision("auto", {"environment": {"precision": "fp16"}}, "cpu") == resolve_precision("auto", "cpu")


@pytest.mark.parametrize("packed", [False, True], ids=["alone", "packed"])
def test_a_run_resumed_on_a_machine_where_auto_means_otherwise_goes_on_as_it_started(
        tmp_path, small_mlp, monkeypatch, packed):
    """A run started where ``auto`` meant one precision (written here into its config.json)
    resumes in that precision, alone or packed, whatever ``auto`` means on this machine."""
    other = "bf16"  # auto is fp32 on a CPU
    configs = [RunConfig.from_keywords("vae", "digits", seed=seed, steps=2, batch_size=4, checkpoint_every=1,
                                       architecture=small_mlp) for seed in (0, 1)]
    runs = [tmp_path / f"run-{seed}" for seed in (0, 1)]
    for run, config in zip(runs, configs):
        train(run, config, progress=False)
        written = json.loads((run / "config.json").read_text())
        written["environment"]["precision"] = other
        (run / "config.json").write_text(json.dumps(written))
    seen = []
    module = packed_module if packed else loop_module
    monkeypatch.setattr(module, "autocast",
                        lambda precision, device: seen.append(precision) or autocast(precision, device))
    if packed:
        train_packed(runs, [config.with_train(steps=3) for config in configs])
    else:
        resume(runs[0], steps=3, progress=False)
    assert seen and set(seen) == {other}


def test_a_group_whose_runs_started_in_different_precisions_is_refused(tmp_path, small_mlp):
    configs = [RunConfig.from_keywords("vae", "digits", seed=seed, steps=1, batch_size=4, architecture=small_mlp)
               for seed in (0, 1)]
    runs = [tmp_path / f"run-{seed}" for seed in (0, 1)]
    for run, config, precision in zip(runs, configs, ("fp32", "bf16")):
        train(run, config, progress=False)
        written = json.loads((run / "config.json").read_text())
        written["environment"]["precision"] = precision
        (run / "config.json").write_text(json.dumps(written))
    with pytest.raises(InputError, match=r"run-0: a group trains in one precision; its runs started in bf16, fp32$"):
        train_packed(runs, [config.with_train(steps=2) for config in configs])
