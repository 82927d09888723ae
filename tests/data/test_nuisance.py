"""The counter-based streams behind the dSprites variants' per-image nuisances."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from disentangle.data.nuisance import GAMMA, image_keys, uniform_streams

MASK = 2**64 - 1


def splitmix64_outputs(state: int, count: int) -> list[int]:
    """SplitMix64 written out in Python integers, from its published description."""
    outputs = []
    for _ in range(count):
        state = (state + GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        outputs.append(z ^ (z >> 31))
    return outputs


def test_python_splitmix64_gives_the_reference_implementations_first_output_for_seed_1234567():
    # the first output of Vigna's splitmix64.c seeded with 1234567
    assert splitmix64_outputs(1234567, 1) == [6457827717110365317]


def test_each_word_of_the_stream_gives_its_high_24_bits_then_bits_8_to_31():
    words = splitmix64_outputs(1234567, 3)
    expected = [part for word in words for part in ((word >> 40) / 2**24, ((word >> 8) & 0xFFFFFF) / 2**24)]
    values = uniform_streams(np.array([1234567], dtype=np.uint64), 6)
    assert values.dtype == np.float32 and values.shape == (1, 6)
    np.testing.assert_array_equal(values[0], np.array(expected, dtype=np.float32))
    # an odd count ends with the high half of the next word
    np.testing.assert_array_equal(uniform_streams(np.array([1234567], dtype=np.uint64), 5)[0], values[0, :5])


def test_an_images_key_mixes_the_seeds_mixed_value_with_its_index():
    def mix(value: int) -> int:
        return splitmix64_outputs((value - GAMMA) & MASK, 1)[0]  # the finaliser of value

    for seed, index in ((0, 0), (0, 737_279), (7, 12), (-1, 3), (2**70 + 5, 9)):
        expected = mix((mix((seed + GAMMA) & MASK) + index) & MASK)
        assert int(image_keys(seed, np.array([index]))[0]) == expected, (seed, index)


def test_keys_of_distinct_indices_differ_and_depend_on_the_seed():
    indices = np.arange(737_280)
    keys = image_keys(0, indices)
    assert np.unique(keys).size == indices.size
    assert not np.any(keys == image_keys(1, indices))


def test_values_are_uniform_on_the_unit_interval_within_and_across_images():
    values = uniform_streams(image_keys(0, np.arange(200)), 1000)
    assert values.min() >= 0 and values.max() < 1
    assert stats.kstest(values.ravel(), "uniform").pvalue > 1e-3
    first = uniform_streams(image_keys(3, np.arange(20_000)), 1)[:, 0]  # one value of many images
    assert stats.kstest(first, "uniform").pvalue > 1e-3


def test_neighbouring_images_and_neighbouring_values_are_uncorrelated():
    values = uniform_streams(image_keys(0, np.arange(4000)), 64).astype(np.float64)
    across_images = np.corrcoef(values[:-1].ravel(), values[1:].ravel())[0, 1]
    along_stream = np.corrcoef(values[:, :-1].ravel(), values[:, 1:].ravel())[0, 1]
    # 250,000 pairs: the standard error of a correlation is 0.002
    assert abs(across_images) < 0.01 and abs(along_stream) < 0.01


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(-(2**70), 2**70),
    indices=st.lists(st.integers(0, 10**7), min_size=1, max_size=20),
    count=st.integers(1, 40),
)
def test_an_images_values_depend_on_its_key_alone_and_longer_streams_extend_shorter_ones(seed, indices, count):
    indices = np.array(indices)
    values = uniform_streams(image_keys(seed, indices), count + 3)
    for row, index in enumerate(indices):
        alone = uniform_streams(image_keys(seed, np.array([index])), count)
        np.testing.assert_array_equal(alone[0], values[row, :count])
    assert values.min() >= 0 and values.max() < 1
