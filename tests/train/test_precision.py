"""The precision a run trains in: what ``auto`` resolves to, from the CPU's flags or the
device, and that a run records it."""

from __future__ import annotations

import json

import pytest
import torch

from disentangle.errors import InputError
from disentangle.train import train
from disentangle.train.precision import (
    autocast,
    configure_matmuls,
    cpu_flags,
    has_bf16_instructions,
    resolve_precision,
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
