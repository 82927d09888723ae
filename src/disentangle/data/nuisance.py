"""Per-image nuisance randomness as a pure function of (dataset index, seed).

The procedural dSprites variants draw a colour, a noise field or a background crop for
each image. disentanglement_lib draws them afresh from a ``RandomState`` at every
sampling; here they are a deterministic function of the image's dataset index and a
dataset option ``seed``, so that an index names one image everywhere: training batches,
the evaluation memo (codes cached by index), the report and explorer, and a resumed run.

The generator is counter-based (SplitMix64, Steele, Lea & Flood 2014):

- an image's key is ``mix(mix(seed + γ) + index)``, ``mix`` being SplitMix64's
  bijective finaliser and ``γ = 0x9E3779B97F4A7C15`` (every key distinct for a seed);
- its stream is SplitMix64's output sequence from that key: 64-bit word ``j`` is
  ``mix(key + (j + 1)·γ)``;
- each word gives two uniforms in [0, 1) with 24-bit resolution (exact in float32):
  value ``2j`` from its high 24 bits, value ``2j + 1`` from bits 8–31.

So ``uniform_streams(keys, count)`` is vectorised over images, costs about a nanosecond
per value (compiled by numba) and needs no state between calls.
"""

from __future__ import annotations

import numpy as np

from disentangle.compiled import compiled

#: SplitMix64's increment (the golden ratio times 2⁶⁴, odd)
GAMMA = 0x9E3779B97F4A7C15
_GAMMA = np.uint64(GAMMA)
_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_30, _SHIFT_27, _SHIFT_31 = np.uint64(30), np.uint64(27), np.uint64(31)
_SHIFT_40, _SHIFT_8 = np.uint64(40), np.uint64(8)
_LOW_24_BITS = np.uint64(0xFFFFFF)
#: 2⁻²⁴: a 24-bit integer times this is a float32 in [0, 1)
_UNIT = np.float32(2.0**-24)


@compiled
def _mix(state):
    """SplitMix64's finaliser: a bijection of uint64 with full avalanche."""
    state = (state ^ (state >> _SHIFT_30)) * _MULTIPLIER_1
    state = (state ^ (state >> _SHIFT_27)) * _MULTIPLIER_2
    return state ^ (state >> _SHIFT_31)


@compiled
def _keys(seed, indices):
    base = _mix(np.uint64(seed) + _GAMMA)
    keys = np.empty(indices.shape[0], dtype=np.uint64)
    for n in range(indices.shape[0]):
        keys[n] = _mix(base + np.uint64(indices[n]))
    return keys


@compiled
def _uniform_streams(keys, count):
    values = np.empty((keys.shape[0], count), dtype=np.float32)
    pairs = count // 2
    for n in range(keys.shape[0]):
        key, row = keys[n], values[n]
        for j in range(pairs):
            word = _mix(key + np.uint64(j + 1) * _GAMMA)
            row[2 * j] = np.float32(word >> _SHIFT_40) * _UNIT
            row[2 * j + 1] = np.float32((word >> _SHIFT_8) & _LOW_24_BITS) * _UNIT
        if count % 2:
            word = _mix(key + np.uint64(pairs + 1) * _GAMMA)
            row[count - 1] = np.float32(word >> _SHIFT_40) * _UNIT
    return values


def image_keys(seed: int, indices: np.ndarray) -> np.ndarray:
    """uint64 ``(N,)``: the key of each image's stream, from the dataset ``seed`` (any
    integer, taken modulo 2⁶⁴) and dataset indices ``(N,)`` (non-negative)."""
    return _keys(np.uint64(seed % 2**64), np.ascontiguousarray(indices, dtype=np.int64))


def uniform_streams(keys: np.ndarray, count: int) -> np.ndarray:
    """float32 ``(N, count)`` in [0, 1): the first ``count`` uniforms of each key's stream
    (multiples of 2⁻²⁴, so ``1 − u`` is exact in float32)."""
    return _uniform_streams(np.ascontiguousarray(keys, dtype=np.uint64), int(count))
