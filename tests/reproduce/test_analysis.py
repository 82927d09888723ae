"""The study statistics on constructed result tables whose answers are worked out by hand."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.reproduce import analysis
from disentangle.reproduce.study import Published


def _table(rows, score="score", udr=None, method="a"):
    """Rows of (value, dataset, seed, score[, udr]) of one method."""
    columns = ["value", "dataset", "seed", score] + ([udr] if udr else [])
    table = pd.DataFrame(rows, columns=columns)
    return table.assign(method=method)


def test_seed_summary_is_the_population_mean_and_std_over_seeds_per_setting():
    table = _table([(1.0, "d", 0, 1.0), (1.0, "d", 1, 3.0), (2.0, "d", 0, 5.0), (2.0, "d", 1, np.nan)])
    summary = analysis.seed_summary(table, ["score"])
    assert summary[["value", "seeds", "score mean", "score std"]].values.tolist() == [[1.0, 2, 2.0, 1.0],
                                                                                      [2.0, 1, 5.0, 0.0]]


def test_rank_correlation_is_one_for_a_monotone_transform_and_minus_one_for_a_reversal():
    a = np.array([0.3, 0.1, 0.7, 0.5, 0.2])
    table = pd.DataFrame({"a": a, "exp": np.exp(a), "minus": -a})
    matrix = analysis.rank_correlations(table, ["a", "exp", "minus"])
    assert matrix.loc["a", "exp"] == pytest.approx(1.0) and matrix.loc["a", "minus"] == pytest.approx(-1.0)


def test_variance_shares_split_the_total_variance_by_the_law_of_total_variance():
    # value 1: seeds 1, 3; value 2: seeds 5, 7. Total variance 5 = between 4 (means 2, 6) + within 1.
    table = _table([(1.0, "d", 0, 1.0), (1.0, "d", 1, 3.0), (2.0, "d", 0, 5.0), (2.0, "d", 1, 7.0)])
    shares = analysis.variance_shares(table, "score").iloc[0]
    assert shares["total"] == pytest.approx(5.0)
    assert (shares["hyperparameter share"], shares["seed share"]) == (pytest.approx(0.8), pytest.approx(0.2))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(-5, 5, allow_nan=False)), min_size=2, max_size=30))
def test_the_two_shares_sum_to_one_and_equal_seeds_leave_no_seed_share(rows):
    table = _table([(float(value), "d", i, score) for i, (value, score) in enumerate(rows)])
    shares = analysis.variance_shares(table, "score").iloc[0]
    if shares["total"] > 1e-9:
        assert shares["hyperparameter share"] + shares["seed share"] == pytest.approx(1.0)
    per_value = {value: score for value, score in rows}  # every seed of a value scores alike
    alike = _table([(float(value), "d", i, per_value[value]) for i, (value, _) in enumerate(rows)])
    alike_shares = analysis.variance_shares(alike, "score").iloc[0]
    if alike_shares["total"] > 1e-9:
        assert alike_shares["seed share"] == pytest.approx(0.0, abs=1e-9)


def test_udr_picks_the_value_of_highest_median_udr_and_reports_what_it_scores():
    table = _table([(1.0, "d", 0, 0.2, 0.9), (1.0, "d", 1, 0.3, 0.8), (2.0, "d", 0, 0.6, 0.1), (2.0, "d", 1, 0.7, 0.2)],
                   udr="udr.model_score")
    row = analysis.udr_selection(table, "score").iloc[0]
    assert row["chosen value"] == 1.0
    assert (row["chosen"], row["best"], row["average"]) == (pytest.approx(0.25), pytest.approx(0.65),
                                                            pytest.approx(0.45))
    # ranks of UDR 4, 3, 1, 2 against 1, 2, 3, 4: 1 - 6 * 18 / (4 * 15)
    assert row["rank correlation"] == pytest.approx(-0.8)


def test_transfer_picks_the_source_datasets_best_value_and_counts_wins_against_random_runs():
    table = _table([(1.0, "d1", 0, 0.5), (1.0, "d1", 1, 0.5), (2.0, "d1", 0, 0.1), (2.0, "d1", 1, 0.1),
                    (1.0, "d2", 0, 0.3), (1.0, "d2", 1, 0.4), (2.0, "d2", 0, 0.2), (2.0, "d2", 1, 0.9)])
    transfer = analysis.hyperparameter_transfer(table, "score").set_index(["source", "target"])
    forward = transfer.loc[("d1", "d2")]
    assert forward["chosen value"] == 1.0 and forward["chosen"] == pytest.approx(0.35)
    assert forward["best"] == pytest.approx(0.55)
    # 0.3 beats 0.2, ties 0.3; 0.4 beats 0.3 and 0.2, ties 0.4: (1.5 + 2.5) / 8
    assert forward["beats random"] == pytest.approx(0.5)
    backward = transfer.loc[("d2", "d1")]
    assert backward["chosen value"] == 2.0 and backward["beats random"] == pytest.approx(0.25)


def test_transfer_needs_two_datasets():
    assert analysis.hyperparameter_transfer(_table([(1.0, "d", 0, 0.5), (2.0, "d", 0, 0.1)]), "score").empty


def test_published_values_are_set_beside_the_best_setting_or_the_mean_over_settings():
    table = pd.concat([_table([(1.0, "d", 0, 0.2), (1.0, "d", 1, 0.4), (2.0, "d", 0, 0.8), (2.0, "d", 1, 0.6)]),
                       _table([(1.0, "d", 0, 0.0), (1.0, "d", 1, 0.0)], method="b")])
    published = (Published("best a ≈ 0.8", "paper", "score", "a"), Published("mean a", "paper", "score", "a", "mean"),
                 Published("a claim", "paper"))
    ours = analysis.published_comparison(table, published)["ours"].tolist()
    assert ours == ["score 0.700 ± 0.100 (best setting, 2 seeds)", "score 0.500 ± 0.200 (mean over 2 settings)", "—"]
