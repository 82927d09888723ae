import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from disentangle.errors import InputError
from disentangle.metrics import METRICS, dci, mig, modularity_explicitness, sap, unified_scores
from disentangle.metrics.dci import completeness, disentanglement
from disentangle.metrics.unified_scores import MATRICES, aggregate_matrix, connected_groups, precision_curve

SMALL = {"num_train": 600, "num_test": 300}
GBT = {"num_stages": 10, "n_jobs": 1}
MIXING = np.array([[1.0, 0.3, 0.0, 0.0], [0.0, 1.0, 0.0, 0.2], [0.0, 0.0, 1.0, 0.5]])


def mixed_codes(x):
    """A deterministic, partly entangled code: each call gives the same codes for the same factors."""
    return x @ MIXING + 0.3 * np.sin(x @ np.array([[3.1, 1.7, 2.3, 0.9], [1.3, 2.9, 0.7, 3.7], [2.2, 0.4, 3.3, 1.1]]))


@pytest.fixture(scope="module")
def data(toy_data):
    return toy_data([3, 4, 5])


@pytest.fixture(scope="module")
def result(data):
    return unified_scores(data, mixed_codes, np.random.RandomState(0), **SMALL, **GBT)


def test_the_diagonal_of_the_grid_equals_the_dedicated_metrics(data, result):
    # Same seed, same draws: each classic metric is one (matrix, aggregation) cell.
    state = lambda: np.random.RandomState(0)  # noqa: E731
    classic_dci = dci(data, mixed_codes, state(), **SMALL, **GBT)
    assert result["importance_gbt_matrix.dci_disentanglement"] == pytest.approx(classic_dci["disentanglement"], abs=1e-12)
    assert result["importance_gbt_matrix.dci_completeness"] == pytest.approx(classic_dci["completeness"], abs=1e-12)
    classic_mig = mig(data, mixed_codes, state(), num_train=SMALL["num_train"])["discrete_mig"]
    assert result["mutual_information_matrix.mig"] == pytest.approx(classic_mig, abs=1e-12)
    assert result["accuracy_svm_matrix.sap"] == pytest.approx(sap(data, mixed_codes, state(), **SMALL)["SAP_score"], abs=1e-12)
    classic_modularity = modularity_explicitness(data, mixed_codes, state(), **SMALL)["modularity_score"]
    assert result["mutual_information_matrix.modularity"] == pytest.approx(classic_modularity, abs=1e-12)


def test_every_matrix_gets_every_aggregation_under_dlibs_names(result):
    num_codes, num_factors = 4, 3
    per_aggregation = (
        ["dci_disentanglement", "dci_completeness", "dci", "mig", "sap", "modularity", "area_precision", "max_precision"]
        + [f"dci_disentanglement.code_{i}" for i in range(num_codes)]
        + [f"dci_completeness.code_{j}" for j in range(num_factors)]
        + [f"mig.factor_{j}" for j in range(num_factors)]
        + [f"sap.factor_{j}" for j in range(num_factors)]
        + [f"modularity.code_{i}" for i in range(num_codes)]
    )
    matrices = ("importance_gbt_matrix", "mutual_information_matrix", "accuracy_svm_matrix")
    assert set(result) == {f"{m}.{k}" for m in matrices for k in per_aggregation} | {"settings"}
    assert result["settings"]["matrices"] == list(matrices)
    assert set(METRICS["unified_scores"].headline) <= set(result)


def test_per_code_and_per_factor_scores_average_to_the_totals(result):
    matrix = "mutual_information_matrix"
    assert result[f"{matrix}.mig"] == pytest.approx(np.mean([result[f"{matrix}.mig.factor_{j}"] for j in range(3)]))
    assert result[f"{matrix}.sap"] == pytest.approx(np.mean([result[f"{matrix}.sap.factor_{j}"] for j in range(3)]))
    modularity = np.mean([result[f"{matrix}.modularity.code_{i}"] for i in range(4)])
    assert result[f"{matrix}.modularity"] == pytest.approx(modularity)


def test_a_permutation_matrix_aggregates_to_perfect_scores():
    # One code per factor, one extra dead code: D and C = 1, gaps = the entries, one group per pair.
    matrix = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    factors = np.repeat(np.arange(4)[:, None], 3, axis=1)  # each factor uniform on 4 values: H = log 4
    scores = aggregate_matrix(matrix, factors)
    assert scores["dci_disentanglement"] == pytest.approx(1.0, abs=1e-6)
    assert scores["dci_completeness"] == pytest.approx(1.0, abs=1e-6)
    assert scores["sap"] == pytest.approx((1.0 + 2.0 + 0.5) / 3)
    assert scores["mig"] == pytest.approx((1.0 + 2.0 + 0.5) / 3 / np.log(4))
    assert [scores[f"modularity.code_{i}"] for i in range(4)] == [1.0, 1.0, 1.0, 0.0]
    assert scores["max_precision"] == 3


def test_precision_counts_groups_of_a_hand_drawn_graph():
    # codes 0-1 share factor 0 (0.9, 0.4); code 2 has factor 1 (0.6) and factor 2 weakly (0.2).
    matrix = np.array([[0.9, 0.0, 0.0], [0.4, 0.0, 0.0], [0.0, 0.6, 0.2]])
    assert [connected_groups(matrix, t) for t in (1.0, 0.9, 0.6, 0.4, 0.2, 0.0)] == [0, 1, 2, 2, 2, 2]
    area = (1 + 2) / 2 * 0.3 + 2 * 0.2 + 2 * 0.2 + 2 * 0.2
    curve = precision_curve(matrix)
    assert curve["area_precision"] == pytest.approx(area)
    assert curve["max_precision"] == 2


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 5), st.integers(2, 4)), elements=st.floats(0, 1)))
def test_aggregations_agree_with_dci_and_are_invariant_to_permuting_codes(matrix):
    factors = np.random.RandomState(0).randint(3, size=(50, matrix.shape[1]))
    scores = aggregate_matrix(matrix, factors)
    permuted = aggregate_matrix(matrix[::-1], factors)
    for key in ("dci_disentanglement", "dci_completeness", "sap", "modularity", "area_precision", "max_precision"):
        assert permuted[key] == pytest.approx(scores[key], abs=1e-9)
    assert scores["dci_disentanglement"] == disentanglement(matrix)
    assert scores["dci_completeness"] == completeness(matrix)
    assert 0 <= scores["max_precision"] <= min(matrix.shape)


def test_every_matrix_is_aggregated_by_default():
    assert METRICS["unified_scores"].settings["matrices"] == tuple(MATRICES)


def test_unknown_matrix_is_refused(data):
    with pytest.raises(InputError, match="matrices must be a non-empty list"):
        unified_scores(data, mixed_codes, np.random.RandomState(0), matrices=["svm"], num_train=20, num_test=10)


def test_a_single_matrix_can_be_chosen(data):
    result = unified_scores(
        data, mixed_codes, np.random.RandomState(0), matrices=["mutual_information_matrix"], **SMALL
    )
    assert {key.partition(".")[0] for key in result if key != "settings"} == {"mutual_information_matrix"}
