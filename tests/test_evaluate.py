import json
import shutil
from pathlib import Path

import pytest

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.scoring.evaluate import evaluate
from disentangle.sweep import expand_sweep
from disentangle.train import train

FAST = {"preset": "fast", "progress": None}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("evaluate") / "run", "beta-vae", "dsprites", steps=3, batch_size=8,
                 progress=False)


def test_evaluate_writes_values_settings_seeds_versions_and_times(run):
    content = evaluate(run, metrics=["mig", "unsupervised_scores"], seeds=[0, 1], **FAST)
    written = json.loads((run / "metrics.json").read_text())
    assert written == json.loads(json.dumps(content))
    assert written["seeds"] == [0, 1] and written["checkpoint_step"] == 3 and written["preset"] == "fast"
    assert [r["seed"] for r in written["results"]["mig"]] == [0, 1]
    first = written["results"]["mig"][0]
    assert {"discrete_mig", "settings", "wall_time_s"} <= first.keys()
    summary = written["summary"]["mig"]["discrete_mig"]
    assert summary["values"] == [r["discrete_mig"] for r in written["results"]["mig"]]
    assert {"torch", "numpy", "scikit-learn", "disentangle"} <= written["environment"].keys()
    assert 0 < written["encoding"]["distinct_images"] <= 737_280


def test_a_second_seed_reuses_the_encodings_of_the_first(run):
    one = evaluate(run, metrics=["mig"], seeds=[5], **FAST)
    two = evaluate(run, metrics=["mig"], seeds=[5, 5], **FAST)
    assert two["encoding"]["distinct_images"] == one["encoding"]["distinct_images"]
    assert two["results"]["mig"][0]["discrete_mig"] == two["results"]["mig"][1]["discrete_mig"]


def test_evaluating_more_metrics_later_keeps_the_earlier_ones(run):
    evaluate(run, metrics=["mig"], seeds=[0], **FAST)
    evaluate(run, metrics=["unsupervised_scores"], seeds=[0], **FAST)
    assert set(json.loads((run / "metrics.json").read_text())["results"]) == {"mig", "unsupervised_scores"}


def test_unknown_metric_is_named(run):
    with pytest.raises(InputError, match="--metrics: unknown metric"):
        evaluate(run, metrics=["nope"])


def test_a_dataset_without_factors_cannot_be_scored(tmp_path):
    plain = train(tmp_path / "digits", "vae", "digits", steps=2, batch_size=4, progress=False)
    with pytest.raises(InputError, match="has no ground-truth factors"):
        evaluate(plain, metrics=["mig"])


def test_cli_evaluate_prints_a_table_and_bad_input_exits_2(run, capsys):
    assert main(["evaluate", str(run), "--metrics", "mig", "--preset", "fast", "--quiet"]) == 0
    assert "discrete_mig" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--metrics", "nope"]) == 2
    assert "--metrics: unknown metric" in capsys.readouterr().err
    assert main(["evaluate", str(run / "missing")]) == 2


def test_diagnostics_of_a_gaussian_model_over_a_small_factor_dataset(tiny_factors):
    import numpy as np
    import torch

    from disentangle.scoring.evaluate import decoder_log_likelihood, memoised_run_encoder, score_representation
    from disentangle.models import build_model
    from disentangle.scoring.representation import IndexedFactorData

    data = tiny_factors
    torch.manual_seed(0)
    model = build_model("beta-vae", data.observation_shape, latent_dim=3, architecture="mlp")
    memo = memoised_run_encoder(model, data)
    scores = score_representation(
        IndexedFactorData(data), memo, ["active_units", "elbo_decomposition", "iwae_bound"],
        posterior_function=memo.posterior, log_likelihood=decoder_log_likelihood(model, data),
    )["results"]
    units, decomposition, bound = (scores[name][0] for name in ("active_units", "elbo_decomposition", "iwae_bound"))
    assert units["num_active_units"] == int(np.sum(np.asarray(units["activity"]) > 0.01))
    for estimator in ("mws", "mss"):
        assert decomposition[f"average_kl_{estimator}"] == pytest.approx(decomposition["average_kl_mss"])
    assert bound["iwae_bound"] >= bound["elbo"] - 1e-9
    assert bound["settings"]["num_observations"] == len(data)  # 120 images, fewer than the 500 asked for


def test_a_metric_that_needs_what_is_not_offered_is_refused_before_any_runs(tiny_factors):
    from disentangle.scoring.evaluate import score_representation
    from disentangle.scoring.representation import IndexedFactorData

    def representation(indices):
        raise AssertionError("nothing should be encoded")

    with pytest.raises(InputError, match="iwae_bound needs the posterior and likelihood"):
        score_representation(IndexedFactorData(tiny_factors), representation, ["mig", "iwae_bound"])


def test_diagnostics_and_the_sampled_representation_need_a_gaussian_posterior(tmp_path):
    run = train(tmp_path / "ae", "ae", "dsprites", steps=1, batch_size=4, progress=False)
    with pytest.raises(InputError, match="need a Gaussian posterior"):
        evaluate(run, metrics=["active_units"])
    with pytest.raises(InputError, match="sampled needs a Gaussian posterior q\\(z\\|x\\); model 'ae' has none"):
        evaluate(run, metrics=["mig"], representation="sampled")


def test_the_diagnostics_that_take_an_n01_prior_refuse_a_model_with_another(tmp_path):
    """The VampPrior VAE has a Gaussian posterior but a mixture prior: the ELBO decomposition and
    the importance-weighted bound, whose formulas take p(z) = N(0, I), are refused (before any
    encoding), while the active units, which read the posterior alone, are scored."""
    run = train(tmp_path / "vamp", "vamp-vae", "dsprites", steps=1, batch_size=4, number_components=2, progress=False)
    for name in ("elbo_decomposition", "iwae_bound"):
        with pytest.raises(InputError, match=f"--metrics: {name} take the prior to be N\\(0, I\\); model 'vamp-vae'"):
            evaluate(run, metrics=[name])
    assert "active_units" in evaluate(run, metrics=["active_units"])["results"]
    with pytest.raises(InputError, match="elbo_decomposition take the prior to be N\\(0, I\\); vamp-vae's is another"):
        expand_sweep({"grid": {"model.name": ["vamp-vae"]}, "evaluate": {"metrics": ["elbo_decomposition"]}})


@pytest.fixture
def run_copy(run, tmp_path):
    """The module's run, copied (these tests write metrics.json sections of their own)."""
    return Path(shutil.copytree(run, tmp_path / "run"))


@pytest.mark.slow
def test_a_sampled_evaluation_has_its_own_section_and_depends_only_on_its_metric_and_seed(run_copy):
    sampled = evaluate(run_copy, metrics=["mig"], seeds=[3, 4], representation="sampled", **FAST)
    mean = evaluate(run_copy, metrics=["mig"], seeds=[3, 4], **FAST)
    written = json.loads((run_copy / "metrics.json").read_text())
    assert written["representation"] == "mean" and written["sampled"]["representation"] == "sampled"
    assert written["sampled"] == json.loads(json.dumps(sampled))  # the mean's evaluation left it alone
    assert written["results"] == json.loads(json.dumps(mean["results"]))
    # An untrained encoder's posterior is wide: its samples are mostly noise, its means are not.
    assert sampled["results"]["mig"][1]["discrete_mig"] != mean["results"]["mig"][1]["discrete_mig"]
    # MIG alone under seed 4 draws the same noise as after seed 3 (the stream restarts for each).
    alone = evaluate(run_copy, metrics=["mig"], seeds=[4], representation="sampled", **FAST)
    assert alone["results"]["mig"][0]["discrete_mig"] == sampled["results"]["mig"][1]["discrete_mig"]
    rewritten = json.loads((run_copy / "metrics.json").read_text())
    assert rewritten["results"] == written["results"] and rewritten["sampled"]["seeds"] == [4]


def test_sampled_refuses_what_has_no_sample_and_a_bad_representation_exits_2(run_copy, capsys):
    with pytest.raises(InputError, match="active_units score the posterior, not a representation"):
        evaluate(run_copy, metrics=["active_units"], representation="sampled")
    assert main(["evaluate", str(run_copy), "--metrics", "mig", "--representation", "median"]) == 2
    assert "--representation: expected one of mean, sampled, got 'median'" in capsys.readouterr().err
    metrics_file = run_copy / "metrics.json"
    assert not metrics_file.exists() or "sampled" not in json.loads(metrics_file.read_text())
