import json
import shutil

import numpy as np
import pytest
import torch

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.metrics import udr
from disentangle.sweep.aggregate import collect
from disentangle.train import load_run, train
from disentangle.scoring.udr import find_runs, score_runs

TINY = {"steps": 2, "batch_size": 8, "latent_dim": 4, "progress": False}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Three β-VAE runs of two steps on dSprites under ``sweep/runs``."""
    folder = tmp_path_factory.mktemp("udr") / "sweep"
    for seed in range(3):
        train(folder / "runs" / f"r{seed}", "beta-vae", "dsprites", seed=seed, **TINY)
    return folder


@pytest.fixture
def runs(sweep, tmp_path):
    """A fresh copy of the sweep's runs (tests write into them)."""
    shutil.copytree(sweep, tmp_path / "sweep")
    return find_runs([tmp_path / "sweep"])


def direct_codes_and_kl(run, seed, dataset, num_points=1000, batch_size=10):
    """Posterior means and mean KL per latent of dlib's draws, computed here without the library's UDR."""
    loaded = load_run(run, dataset=dataset)
    state = np.random.RandomState(seed)
    factors = np.concatenate([loaded.dataset.sample_factors(batch_size, state) for _ in range(num_points // batch_size)])
    with torch.no_grad():
        mean, logvar = loaded.model.posterior(loaded.dataset.observations(loaded.dataset.index_of(factors)))
    mean, logvar = mean.double().numpy(), logvar.double().numpy()
    return mean, np.mean(0.5 * (mean**2 + np.exp(logvar) - logvar - 1), axis=0)


@pytest.mark.slow
def test_each_run_gets_its_score_computed_on_the_same_observations(runs):
    settings = {"kl_filter_threshold": 0.0, "correlation_matrix": "spearman"}
    sections = score_runs(runs, seed=3, settings=settings)
    dataset = load_run(runs[0]).dataset
    encoded = [direct_codes_and_kl(run, 3, dataset) for run in runs]
    for section, (_, kl) in zip(sections, encoded):
        np.testing.assert_allclose(section["kl_per_dim"], kl, rtol=1e-5, atol=1e-9)
    # The metric on the directly computed codes gives the same scores.
    fixed = [lambda x, codes=codes, kl=kl: (codes, kl) for codes, kl in encoded]
    expected = udr(_Points(), fixed, np.random.RandomState(0), **settings)
    np.testing.assert_allclose([s["model_score"] for s in sections], expected["model_scores"], atol=1e-6)
    np.testing.assert_allclose(
        sections[1]["pairwise_disentanglement_scores"], expected["pairwise_disentanglement_scores"], atol=1e-6
    )
    assert sections[2]["runs"] == [str(run.resolve()) for run in runs] and sections[2]["index"] == 2
    assert np.array(sections[0]["raw_correlations"]).shape == (3, 4, 4)


class _Points:
    """1,000 points of one two-valued factor: the metric's draws, whose observations are ignored."""

    num_factors, factors_num_values = 1, [2]

    def sample_factors(self, num, random_state):
        return np.zeros((num, 1), dtype=np.int64)

    def sample_observations_from_factors(self, factors, random_state):
        return factors


@pytest.mark.slow
def test_the_udr_section_is_added_beside_the_other_metrics_and_aggregate_reads_it(runs):
    earlier = {"checkpoint_step": 2, "preset": "fast", "seeds": [0], "representation": "mean",
               "results": {"mig": [{"seed": 0, "discrete_mig": 0.25}]},
               "summary": {"mig": {"discrete_mig": {"mean": 0.25, "std": 0.0, "values": [0.25]}}}}
    (runs[0] / "metrics.json").write_text(json.dumps(earlier))
    sections = score_runs(runs)
    written = json.loads((runs[0] / "metrics.json").read_text())
    assert {key: written[key] for key in earlier} == earlier
    assert written["udr"] == json.loads(json.dumps(sections[0]))
    assert written["udr"]["settings"]["correlation_matrix"] == "lasso"
    assert written["udr"]["settings"]["num_data_points"] == 1000
    table = collect(runs[0].parent)
    assert table["udr.model_score"].tolist() == pytest.approx([s["model_score"] for s in sections])
    assert table["mig.discrete_mig"].tolist()[0] == 0.25


def _edit_config(run, section, key, value):
    path = run / "config.json"
    config = json.loads(path.read_text())
    config[section][key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [("model", "latent_dim", 6, "latent_dim 6 differs"), ("data", "name", "digits", "trained on other data")],
)
def test_a_mix_of_runs_is_refused_and_nothing_is_written(runs, folder_hash, section, key, value, message):
    _edit_config(runs[2], section, key, value)
    before = folder_hash(runs[0].parent)
    with pytest.raises(InputError, match=message):
        score_runs(runs)
    assert folder_hash(runs[0].parent) == before


def test_fewer_than_two_runs_or_a_run_given_twice_are_refused(runs):
    with pytest.raises(InputError, match="at least 2 runs"):
        score_runs(runs[:1])
    with pytest.raises(InputError, match="given once"):
        score_runs([runs[0], runs[0]])
    with pytest.raises(InputError, match="no run folders under it"):
        score_runs([runs[0] / "checkpoints"])


@pytest.mark.slow
def test_a_model_without_a_gaussian_posterior_is_refused(runs, tmp_path):
    plain = train(tmp_path / "ae", "ae", "dsprites", **TINY)
    with pytest.raises(InputError, match="no Gaussian posterior"):
        score_runs([runs[0], plain])


@pytest.mark.slow
def test_cli_udr_prints_each_runs_score_and_bad_input_exits_2(runs, capsys):
    assert main(["udr", str(runs[0].parent), "--correlation-matrix", "spearman", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "UDR (spearman) of 3 runs" in out and str(runs[2].resolve()) in out
    assert main(["udr", str(runs[0])]) == 2
    assert "at least 2 runs" in capsys.readouterr().err
    assert main(["udr", str(runs[0]), str(runs[1]), "--correlation-matrix", "pearson"]) == 2
    assert "correlation_matrix must be one of" in capsys.readouterr().err
