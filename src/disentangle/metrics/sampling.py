"""Checked access to a ground-truth dataset and a representation function.

A dataset is anything with disentanglement_lib's ``GroundTruthData`` methods
(``num_factors``, ``factors_num_values``, ``sample_factors``,
``sample_observations_from_factors``); a representation function maps a batch of
observations to a NumPy array ``(N, num_codes)``.

Factor draws consume ``random_state`` in exactly dlib's order (the same calls with the
same sizes), while observations are generated and encoded afterwards in large
batches. For datasets whose observations are a deterministic function of the factors
(dSprites, Shapes3D, ...) the random stream, and so every sampled point, is the same
as dlib's; where observations are themselves random (noisy variants) the stream is
consumed in a different order but every point has the same distribution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from disentangle.errors import InputError

#: observations per call of the representation function
ENCODE_BATCH = 4096

Representation = Callable[[np.ndarray], np.ndarray]
_INTERFACE = ("num_factors", "factors_num_values", "sample_factors", "sample_observations_from_factors")


def factor_sizes(ground_truth_data) -> np.ndarray:
    """``factors_num_values`` as an int64 array, checked against ``num_factors``."""
    for name in _INTERFACE:
        if not hasattr(ground_truth_data, name):
            raise InputError(
                f"ground_truth_data: expected dlib's GroundTruthData interface, missing '{name}'"
            )
    sizes = np.asarray(ground_truth_data.factors_num_values)
    num_factors = ground_truth_data.num_factors
    if sizes.ndim != 1 or len(sizes) != num_factors:
        raise InputError(
            f"ground_truth_data: factors_num_values has {sizes.size} entries, "
            f"expected num_factors = {num_factors}"
        )
    if num_factors < 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise InputError(
            f"ground_truth_data: factors_num_values must be positive integers, got {sizes.tolist()}"
        )
    return sizes.astype(np.int64)


def check_factors(factors: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Sampled factors ``(..., K)`` as int64, each column k inside ``[0, sizes[k])``."""
    factors = np.asarray(factors)
    if not np.issubdtype(factors.dtype, np.integer):
        raise InputError(
            f"ground_truth_data.sample_factors: expected integer factors, got dtype {factors.dtype}"
        )
    flat = factors.reshape(-1, len(sizes))
    outside = np.any((flat < 0) | (flat >= sizes), axis=0)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"ground_truth_data.sample_factors: factor {k} has values outside [0, {sizes[k]}) "
            f"(factors_num_values = {sizes.tolist()})"
        )
    return factors.astype(np.int64, copy=False)


def draw_factors(ground_truth_data, num: int, random_state: np.random.RandomState) -> np.ndarray:
    """One ``sample_factors(num, random_state)`` call, shape-checked: ``(num, K)``.

    Cheap enough for dlib's per-point loops; check the values of the stacked draws
    with :func:`check_factors`.
    """
    factors = np.asarray(ground_truth_data.sample_factors(num, random_state))
    if factors.shape != (num, ground_truth_data.num_factors):
        raise InputError(
            f"ground_truth_data.sample_factors: expected an array ({num}, "
            f"{ground_truth_data.num_factors}), got shape {factors.shape}"
        )
    return factors


def check_codes(codes, num_rows: int, num_codes: int | None = None) -> np.ndarray:
    """A representation's output as float64 ``(num_rows, D)``, finite, with D as expected."""
    try:
        codes = np.asarray(codes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"representation_function: expected a numeric array, got {type(codes).__name__} ({error})"
        ) from None
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise InputError(
            "representation_function: expected a 2-D array (num_observations, num_codes), "
            f"got shape {codes.shape}"
        )
    if codes.shape[0] != num_rows:
        raise InputError(
            f"representation_function: expected {num_rows} rows (one per observation), got {codes.shape[0]}"
        )
    if num_codes is not None and codes.shape[1] != num_codes:
        raise InputError(
            f"representation_function: expected {num_codes} codes per row as before, got {codes.shape[1]}"
        )
    if not np.all(np.isfinite(codes)):
        raise InputError("representation_function: returned NaN or infinite codes, expected finite values")
    return codes


def encode(
    ground_truth_data,
    representation_function: Representation,
    factors: np.ndarray,
    random_state: np.random.RandomState,
    num_codes: int | None = None,
) -> np.ndarray:
    """Codes ``(N, D)`` float64 of the observations of factor vectors ``(N, K)``."""
    chunks = []
    for start in range(0, len(factors), ENCODE_BATCH):
        batch = factors[start : start + ENCODE_BATCH]
        observations = ground_truth_data.sample_observations_from_factors(batch, random_state)
        chunks.append(check_codes(representation_function(observations), len(batch), num_codes))
        num_codes = chunks[-1].shape[1]
    if not chunks:
        raise InputError("encode: expected at least one factor vector")
    return np.concatenate(chunks)


def encode_groups(
    ground_truth_data,
    representation_function: Representation,
    factors: np.ndarray,
    random_state: np.random.RandomState,
    reduce: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """``reduce`` applied to the codes of groups of factor vectors, whole groups at a time.

    ``factors`` is ``(G, S, K)``: G groups of S factor vectors. ``reduce`` maps codes
    ``(g, S, D)`` to one row per group ``(g, F)``; returns ``(G, F)``. Memory stays
    bounded by :data:`ENCODE_BATCH` observations however many groups there are.
    """
    num_groups, group_size, num_factors = factors.shape
    step = max(1, ENCODE_BATCH // group_size)
    rows, num_codes = [], None
    for start in range(0, num_groups, step):
        batch = factors[start : start + step]
        flat = batch.reshape(-1, num_factors)
        codes = encode(ground_truth_data, representation_function, flat, random_state, num_codes)
        num_codes = codes.shape[1]
        rows.append(reduce(codes.reshape(len(batch), group_size, num_codes)))
    return np.concatenate(rows)


def sample_factor_codes(
    ground_truth_data,
    representation_function: Representation,
    num_points: int,
    random_state: np.random.RandomState,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """``(codes (N, D), factors (N, K))`` of ``num_points`` uniformly drawn factor vectors.

    dlib's ``generate_batch_factor_code`` (which returns both transposed): factors are
    drawn ``batch_size`` at a time, as dlib does, then encoded in large batches.
    """
    sizes = factor_sizes(ground_truth_data)
    batches = [
        draw_factors(ground_truth_data, min(batch_size, num_points - start), random_state)
        for start in range(0, num_points, batch_size)
    ]
    factors = check_factors(np.concatenate(batches), sizes)
    return encode(ground_truth_data, representation_function, factors, random_state), factors


def excluded_factors(ground_truth_data, exclude_factors, exclude_shape: bool) -> list[int]:
    """Indices of factors to leave out, checked; ``None`` means the protocol's default.

    The original BetaVAE-score and MIG protocols (Higgins 2017, Chen 2018) leave out
    the categorical shape factor: by default the factor named ``"shape"`` in the
    dataset's ``factor_names`` when ``exclude_shape``, otherwise none.
    """
    num_factors = ground_truth_data.num_factors
    if exclude_factors is None:
        names = list(getattr(ground_truth_data, "factor_names", None) or [])
        return [names.index("shape")] if exclude_shape and "shape" in names else []
    try:
        indices = sorted(set(exclude_factors))
    except TypeError:
        indices = [None]
    if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in indices) or not all(
        0 <= k < num_factors for k in indices
    ):
        raise InputError(
            f"exclude_factors: expected a list of factor indices in [0, {num_factors}), "
            f"got {exclude_factors!r}"
        )
    return [int(k) for k in indices]


def sample_points(
    metric: str,
    ground_truth_data,
    representation_function: Representation,
    random_state: np.random.RandomState,
    counts,
    batch_size: int = 16,
    *,
    min_codes: int = 1,
    min_factors: int = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The points a metric scores: one ``(codes (N, D), factors (N, K))`` per count N of
    ``counts``, by :func:`sample_factor_codes`, one set after the other (dlib's order: the
    training set, then the test set).

    ``InputError`` naming ``metric`` unless the dataset has ``min_factors`` factors (checked
    before any draw) and the codes ``min_codes`` dimensions.
    """
    num_factors = len(factor_sizes(ground_truth_data))
    if num_factors < min_factors:
        raise InputError(f"{metric}: expected at least {min_factors} factors, got {num_factors}")
    points = [
        sample_factor_codes(ground_truth_data, representation_function, count, random_state, batch_size)
        for count in counts
    ]
    num_codes = points[0][0].shape[1]
    if num_codes < min_codes:
        raise InputError(f"{metric}: expected at least {min_codes} code dimensions, got {num_codes}")
    return points
