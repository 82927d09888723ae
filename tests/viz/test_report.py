"""``disentangle report``: one self-contained HTML file per run, and a comparison page."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from html.parser import HTMLParser

import pytest
from PIL import Image

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.scoring.evaluate import evaluate
from disentangle.train import train
from disentangle.viz import write_comparison, write_report
from disentangle.viz.report import SECTIONS

VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Page(HTMLParser):
    """Collects ids, tags and URL-bearing attributes, and checks that elements nest."""

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.tags, self.urls, self.images, self.stack = [], [], [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        self.urls.extend(attrs[name] for name in ("src", "href", "action", "data") if name in attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def _check_self_contained(text: str) -> _Page:
    page = _Page(text)
    assert page.stack == [], f"unclosed elements: {page.stack}"
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for url in page.urls:
        assert url.startswith(("data:image/png;base64,", "data:image/gif;base64,", "#")), url[:60]
    assert "http://" not in text and "https://" not in text and "url(" not in text
    for src in page.images:  # every inlined image decodes
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    return page


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    common = dict(steps=4, batch_size=8, log_every=2, progress=False)
    return (train(folder / "beta4", "beta-vae", "dsprites", beta=4.0, **common),
            train(folder / "ae", "ae", "dsprites", **common))


@pytest.fixture(scope="module")
def reports(runs, tmp_path_factory):
    """The CLI's output for both runs (neither scored yet): their reports and the comparison page."""
    out = tmp_path_factory.mktemp("comparison") / "both.html"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["report", str(runs[0]), str(runs[1]), "--out", str(out)]) == 0
    paths = [runs[0] / "report.html", runs[1] / "report.html", out]
    assert printed.getvalue().splitlines() == [f"wrote {path}" for path in paths]
    return paths


def test_a_run_without_metrics_gets_every_section_and_says_how_to_score_it(runs, reports):
    text = reports[0].read_text()
    page = _check_self_contained(text)
    assert [id_ for id_ in page.ids if id_ in SECTIONS] == list(SECTIONS)
    assert f"No metrics yet: this run has no metrics.json. Compute them with <code>disentangle evaluate {runs[0]}" in text
    assert text.count('src="data:image/gif') == 1  # the animated traversal
    assert "decodings of z ~ N(0, I)" in text and "around three samples of the prior" in text
    assert "<tr><th>model.beta</th><td>4.0</td></tr>" in text  # the configuration


def test_the_traversal_section_names_the_factor_each_row_carries_most_of(runs, reports):
    """Every latent is listed once, in the rows' order, with the factor of its largest
    I(z; v) / H(v) over the report's 2,000 images, or "none" below 0.2."""
    import re

    import numpy as np

    from disentangle.metrics.estimators.mutual_information import main_factors, normalised_mutual_info
    from disentangle.train import load_run
    from disentangle.viz import latent_order
    from disentangle.viz.report import _encode

    text = reports[0].read_text()
    listed = re.search(r"Rows from top to bottom, each with the factor it carries most of.*?every factor\): (.*?)\.</p>", text)
    assert listed is not None
    entries = listed.group(1).split("; ")
    loaded = load_run(runs[0])
    order, _ = latent_order(loaded.model, loaded.dataset)
    assert [entry.split(":")[0] for entry in entries] == [f"z{j}" for j in order]
    indices = loaded.dataset.sample_indices(2000, __import__("torch").Generator().manual_seed(2))
    codes = _encode(loaded.model, loaded.dataset.observations(indices))
    shares = normalised_mutual_info(codes, loaded.dataset.factors_of(np.asarray(indices)))
    carried = main_factors(shares)
    names = loaded.dataset.factor_names
    assert [entry.split(": ")[1].split(" (")[0] for entry in entries] == [
        names[carried[j]] if carried[j] is not None else "none" for j in order]
    assert "around the central image" in text


def test_a_model_without_a_gaussian_prior_is_traversed_across_its_codes_range(reports):
    text = reports[1].read_text()
    _check_self_contained(text)
    assert "across its codes' 1st–99th percentile" in text
    assert "Skipped: ae has no N(0, I) prior" in text and "samples of the prior" not in text


def test_several_runs_get_a_comparison_page(runs, reports, tmp_path):
    text = reports[2].read_text()
    page = _check_self_contained(text)
    assert {"settings", "metrics", "training", "traversals"} <= set(page.ids)
    assert "<th>model.name</th>" in text and "<th>train.seed</th>" not in text  # only what differs
    assert f"<code>disentangle evaluate {runs[1]}</code>" in text  # runs with no metrics.json
    with pytest.raises(InputError, match="named twice"):
        write_comparison([runs[0], runs[0]], tmp_path / "twice.html")


def test_scores_are_shown_beside_the_baselines(runs, reports, tmp_path):
    evaluate(runs[0], metrics=["mig"], preset="fast")
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    score = {"mean": 0.123456, "std": 0.0, "values": [0.123456]}
    (baselines / "baselines.json").write_text(json.dumps({"pca": {"mig": {"discrete_mig": score}}}))
    text = write_report(runs[0], baselines=baselines, num_factor_images=300).read_text()
    _check_self_contained(text)
    assert "<td>baseline: pca</td><td>mig</td><td>discrete_mig</td><td class=\"number\">0.1235</td>" in text
    assert f"<td>{runs[0].name}</td><td>mig</td><td>discrete_mig</td>" in text
    assert "No metrics yet" not in text and "No baselines shown" not in text


def _term_rows(text: str) -> dict[str, str]:
    import re

    section = text.split('id="training-curves"')[1].split('id="kl-per-dimension"')[0]
    return dict(re.findall(r"<tr><th>([a-z_]+)</th><td>([^<]*)</td></tr>", section))


def test_each_training_curve_is_described_and_beta_tcvae_names_its_estimates_by_their_estimator(tmp_path):
    run = train(tmp_path / "tcvae", "beta-tcvae", "dsprites", steps=4, batch_size=16, log_every=2, progress=False)
    text = write_report(run, num_factor_images=300).read_text()
    _check_self_contained(text)
    rows = _term_rows(text)
    assert list(rows) == ["loss", "recon", "kl", "elbo", "tc_mws", "index_code_mi_mss", "tc_mss", "dimwise_kl_mss"]
    assert all("minibatch stratified sampling estimate on each batch, nats; biased" in rows[key]
               for key in ("index_code_mi_mss", "tc_mss", "dimwise_kl_mss"))
    assert "minibatch weighted sampling" in rows["tc_mws"] and "the loss weighs it by β − 1" in rows["tc_mws"]
    assert "each point is its mean over the training batches since the point before: minibatch estimates" in text
    assert "No estimate of the decomposition over the dataset yet" in text and 'estimator="exact")</code>' in text

    # with a full-data decomposition in metrics.json, it is shown beside the minibatch terms
    score = lambda value: {"mean": value, "std": 0.0, "values": [value]}  # noqa: E731
    scores = {f"{name}_{estimator}": score(value + offset) for estimator, offset in (("mss", 0.0), ("exact", 1.0))
              for name, value in (("index_code_mi", 7.5), ("total_correlation", 0.25), ("dimwise_kl", 2.0),
                                  ("average_kl", 9.75))}
    (run / "metrics.json").write_text(json.dumps({"checkpoint_step": 4, "summary": {"elbo_decomposition": scores}}))
    text = write_report(run, num_factor_images=300).read_text()
    _check_self_contained(text)
    assert "Over the dataset at step 4 (<code>elbo_decomposition</code> in metrics.json" in text
    assert ("<tr><td>exact</td><td class=\"number\">8.500</td><td class=\"number\">1.250</td>"
            "<td class=\"number\">3.000</td><td class=\"number\">10.750</td><td>every posterior") in text
    assert "<tr><td>mss</td><td class=\"number\">7.500</td>" in text and "Without the exact estimator" not in text


def test_a_factor_vae_run_describes_its_discriminators_estimate(tmp_path):
    run = train(tmp_path / "factor", "factor-vae", "dsprites", steps=2, batch_size=8, log_every=1, progress=False)
    rows = _term_rows(write_report(run, num_factor_images=300).read_text())
    assert "as the discriminator estimates it" in rows["tc"]
    assert set(rows) >= {"loss", "recon", "kl", "tc", "loss_discriminator", "discriminator_accuracy"}


@pytest.mark.parametrize("problem", ["not a run", "bad baselines"])
def test_cli_bad_input_is_one_line_and_exit_2(runs, tmp_path, capsys, problem):
    if problem == "not a run":
        argv = ["report", str(tmp_path)]
    else:
        (tmp_path / "baselines.json").write_text("[1, 2")
        argv = ["report", str(runs[0]), "--baselines", str(tmp_path)]
    before = (runs[0] / "report.html").read_bytes() if (runs[0] / "report.html").exists() else None
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err
    after = (runs[0] / "report.html").read_bytes() if (runs[0] / "report.html").exists() else None
    assert before == after
