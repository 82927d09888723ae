"""``scripts/demo.sh``, the quick start, run as a user runs it but for a few steps."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
VENV = REPO / ".venv"


@pytest.mark.slow
@pytest.mark.skipif(not (VENV / ".disentangle-installed").is_file(),
                    reason="needs the repository's .venv (scripts/test.sh sets it up); the demo would install one")
def test_the_demo_writes_the_traversal_gif_report_and_scores_and_prints_its_summary(tmp_path):
    run = tmp_path / "quickstart"
    # MIG and DCI only: the BetaVAE score's 300,000 encoded pairs took half the test's time,
    # and the metrics are tested on their own
    env = {**os.environ, "RUN": str(run), "STEPS": "30", "METRICS": "mig,dci"}
    result = subprocess.run([str(REPO / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("config.json", "traversal.png", "traversal.gif", "reconstructions.png", "report.html", "metrics.json"):
        assert (run / name).is_file(), name
    summary = result.stdout.strip().splitlines()[-4:]
    assert summary[0].startswith("beta-tcvae on dsprites, step 30 in ") and summary[0].endswith(f"min: {run}")
    assert summary[1] == "  files: traversal.png, traversal.gif, reconstructions.png, report.html, metrics.json"
    assert summary[2].startswith("  scores (preset fast, step 30): mig discrete_mig ")
    assert "dci disentanglement" in summary[2] and "beta_vae" not in summary[2]
    assert summary[3].startswith("  traversal rows, top to bottom")

    again = subprocess.run([str(REPO / "scripts" / "demo.sh")], env={**env, "STEPS": "40"}, capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed {run}" in again.stdout and "step 40 in " in again.stdout
