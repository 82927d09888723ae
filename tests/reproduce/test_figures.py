"""The report's figures on a constructed study table, and the report written from them."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from disentangle.reproduce import analysis
from disentangle.reproduce.figures import FIGURES, MIG_CHEN, MIG_DLIB, Exhibit
from disentangle.reproduce.report import write_report
from disentangle.reproduce.study import Published
from disentangle.viz.figures import figure_to_png_bytes

SCORES = [MIG_DLIB, MIG_CHEN, "factor_vae.eval_accuracy", "reconstruction.recon"]
PUBLISHED = (Published("β-VAE's MIG ≈ 0.2", "a test", MIG_DLIB, "beta-vae", value=0.2),
             Published("FactorVAE is better", "a test", None, "factor-vae"))


@pytest.fixture
def table():
    """Two methods × two values × two datasets × two seeds, every score and UDR filled in."""
    rng = np.random.default_rng(0)
    rows = [{"method": method, "value": value, "dataset": dataset, "seed": seed}
            for method in ("beta-vae", "factor-vae") for value in (1.0, 4.0)
            for dataset in ("dsprites", "color-dsprites") for seed in (0, 1)]
    frame = pd.DataFrame(rows)
    for column in [*SCORES, "udr.model_score"]:
        frame[column] = rng.uniform(0, 1, len(frame))
    return frame


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_draws_a_png_and_keeps_the_table_behind_it(table, name):
    exhibits = FIGURES[name](table, SCORES, PUBLISHED)
    assert exhibits and all(isinstance(exhibit, Exhibit) for exhibit in exhibits)
    for exhibit in exhibits:
        assert exhibit.figure is not None, exhibit.caption
        assert Image.open(io.BytesIO(figure_to_png_bytes(exhibit.figure))).format == "PNG"


def test_the_published_table_sets_each_published_number_beside_our_seed_summary(table):
    (exhibit,) = FIGURES["published_beside_ours"](table, [MIG_DLIB], PUBLISHED)
    summary = analysis.seed_summary(table, [MIG_DLIB])
    assert list(exhibit.table.columns) == ["setting", "seeds", MIG_DLIB, f"{MIG_DLIB} published"]
    assert exhibit.table["setting"].iloc[0] == "beta-vae 1 dsprites" and len(exhibit.table) == len(summary)
    first = summary.iloc[0]
    assert exhibit.table[MIG_DLIB].iloc[0] == f"{first[f'{MIG_DLIB} mean']:.3f} ± {first[f'{MIG_DLIB} std']:.3f}"
    assert list(exhibit.table[f"{MIG_DLIB} published"]) == ["0.2"] * 4 + ["—"] * 4
    (nothing,) = FIGURES["published_beside_ours"](table, [MIG_DLIB], ())
    assert nothing.figure is None


def test_the_figures_tables_are_the_analysis_functions_results(table):
    (variance, *_) = FIGURES["seed_variance_share"](table, SCORES)
    expected = analysis.variance_shares(table, MIG_DLIB)
    pd.testing.assert_frame_equal(variance.table.reset_index(drop=True), expected)
    (mig,) = FIGURES["mig_against_beta"](table, SCORES)
    pd.testing.assert_frame_equal(mig.table, analysis.seed_summary(table, [MIG_DLIB, MIG_CHEN]))


def test_a_figure_that_cannot_be_drawn_says_why(table):
    (one,) = FIGURES["hyperparameter_transfer"](table[table["dataset"] == "dsprites"], SCORES)
    assert one.figure is None and "one dataset" in one.caption
    (none,) = FIGURES["udr_model_selection"](table.drop(columns="udr.model_score"), SCORES)
    assert none.figure is None and "no run has a UDR" in none.caption


def test_the_report_is_markdown_with_png_files_and_one_html_file_with_them_inlined(table, tmp_path):
    (figure,) = FIGURES["mig_against_beta"](table, SCORES)
    blocks = [("heading", "Results"), ("paragraph", "A <b> & c"), ("paragraph", "run `a < b`"), ("table", pd.DataFrame({"x": [0.5], "y": ["z"]})),
              ("figure", figure)]
    md, page = write_report(tmp_path, "A title", blocks)
    markdown = md.read_text()
    assert markdown.startswith("# A title\n\n## Results\n\nA <b> & c\n\nrun `a < b`\n\n| x | y |\n|---|---|\n| 0.500 | z |")
    assert f"![{figure.caption}](figures/mig-against-beta.png)" in markdown
    assert Image.open(tmp_path / "figures" / "mig-against-beta.png").format == "PNG"
    html = page.read_text()
    assert "A &lt;b&gt; &amp; c" in html and "<p>run <code>a &lt; b</code></p>" in html and html.count("data:image/png;base64,") == 1 and "<td>0.500</td>" in html


def test_the_selection_figures_leave_out_scores_where_lower_is_better(table):
    names = [exhibit.name for exhibit in FIGURES["udr_model_selection"](table, SCORES)]
    assert names == [f"udr-selection-{score}" for score in SCORES if score != "reconstruction.recon"]
    (transfer,) = FIGURES["hyperparameter_transfer"](table, SCORES)
    assert "reconstruction.recon" not in set(transfer.table["score"])


def test_the_distributions_follow_the_studys_order_not_the_alphabet(table):
    """Methods as declared (factor-vae before beta-vae here), values in grid order (16 before 4)."""
    reordered = table.assign(method=table["method"].map({"beta-vae": "zeta", "factor-vae": "alpha"}),
                             value=table["value"].map({1.0: 16.0, 4.0: 4.0}))
    (exhibit,) = FIGURES["score_distributions"](reordered, [MIG_DLIB])
    ticks = [label.get_text() for label in exhibit.figure.axes[0].get_xticklabels()]
    assert ticks == ["zeta 16", "zeta 4", "alpha 16", "alpha 4"]
