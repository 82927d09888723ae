"""``Metric``: everything the library knows about one metric, declared beside its function.

A descriptor holds the metric's name, its function, its settings under the default
``dlib`` preset (disentanglement_lib's, or ours for what dlib lacks) and what the
``fast`` preset changes, the headline scores that tables and plots show, and what
the metric needs from the thing it scores. ``disentangle.metrics.METRICS`` collects the
descriptors; presets, ``evaluate``, sweeps and figures read them, so a new metric is
one module plus one line there.

Needs, and the ``Inputs`` field that offers each:

- ``codes``: ``representation_function``, observations → codes ``(N, D)`` (every
  metric of dlib's contract ``fn(ground_truth_data, representation_function,
  random_state, **settings)``);
- ``posterior``: ``posterior_function``, observations → ``(mean, logvar)`` of a
  diagonal Gaussian q(z|x), each ``(N, D)``;
- ``likelihood``: ``log_likelihood(observations, z)``, z ``(n, s, D)`` → log p(x|z)
  ``(n, s)`` in nats, summed over the observation (a decoder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from disentangle.errors import InputError

CODES, POSTERIOR, LIKELIHOOD = "codes", "posterior", "likelihood"
NEEDS = (CODES, POSTERIOR, LIKELIHOOD)
#: preset names; ``dlib`` is the default
PRESET_NAMES = ("dlib", "fast")


@dataclass(frozen=True)
class Inputs:
    """What an evaluation offers the metrics (see the module docstring for each function).

    ``data`` is a ``GroundTruthData`` object; every function takes observations as
    ``data`` hands them out (for ``IndexedFactorData``, dataset indices).
    """

    data: object
    representation_function: Callable
    posterior_function: Callable | None = None
    log_likelihood: Callable | None = None

    def offers(self, need: str) -> bool:
        return {
            CODES: self.representation_function,
            POSTERIOR: self.posterior_function,
            LIKELIHOOD: self.log_likelihood,
        }[need] is not None


@dataclass(frozen=True)
class Metric:
    """One metric of the registry.

    Attributes:
        name: its name in ``metrics.json``, ``--metrics`` and sweep files.
        function: the metric itself; calling the descriptor calls it.
        settings: every setting with its default (the ``dlib`` preset), documented in
            the metric's module.
        headline: the scores that tables and plots show, in order.
        fast: the settings the ``fast`` preset changes (see ``metrics.presets``).
        needs: what it cannot run without (``NEEDS``).
        uses: what it uses when offered (MIG's Chen estimator: the posterior).
        default: whether ``evaluate`` runs it when no metrics are named (dlib's seven).
        adapter: how ``evaluate`` calls a function outside dlib's contract:
            ``adapter(inputs, random_state, settings)`` with the resolved ``settings``.
            Without one the call is ``function(data, representation_function,
            random_state, preset=..., **settings)``, plus ``posterior_function`` when used.
    """

    name: str
    function: Callable[..., dict]
    settings: Mapping[str, object]
    headline: tuple[str, ...]
    fast: Mapping[str, object] = field(default_factory=dict)
    needs: tuple[str, ...] = (CODES,)
    uses: tuple[str, ...] = ()
    default: bool = False
    adapter: Callable[[Inputs, np.random.RandomState, dict], dict] | None = None

    def __post_init__(self):
        unknown = sorted(set(self.fast) - set(self.settings))
        if unknown or not set(self.needs) | set(self.uses) <= set(NEEDS):
            raise ValueError(f"metric {self.name}: fast changes unknown settings {unknown} or needs are not in {NEEDS}")

    def __call__(self, *args, **kwargs) -> dict:
        return self.function(*args, **kwargs)

    def preset(self, preset: str) -> dict:
        """The settings under ``preset``."""
        if preset not in PRESET_NAMES:
            raise InputError(f"preset: unknown preset '{preset}' (expected one of {', '.join(PRESET_NAMES)})")
        return {**self.settings, **(self.fast if preset == "fast" else {})}

    def resolve(self, preset: str, overrides: Mapping) -> dict:
        """The settings under ``preset`` with ``overrides`` applied and checked, plus ``preset``.

        Settings whose default is an integer must be positive integers, floats
        non-negative numbers, flags booleans; unknown names raise ``InputError``.
        """
        defaults = self.preset(preset)
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise InputError(f"{self.name}: unknown setting(s) {unknown} (expected some of {sorted(defaults)})")
        settings = {**defaults, **overrides}
        for name, default in self.settings.items():
            value = settings[name]
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise InputError(f"{self.name}: setting {name} must be True or False, got {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                    raise InputError(f"{self.name}: setting {name} must be a positive integer, got {value!r}")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise InputError(f"{self.name}: setting {name} must be a non-negative number, got {value!r}")
        return {**settings, "preset": preset}

    def check(self, inputs: Inputs) -> None:
        """Raise ``InputError`` unless ``inputs`` offer everything the metric needs."""
        missing = [need for need in self.needs if not inputs.offers(need)]
        if missing:
            raise InputError(f"--metrics: {self.name} needs the {' and '.join(missing)} of the representation")

    def evaluate(self, inputs: Inputs, random_state: np.random.RandomState, preset: str, overrides: Mapping) -> dict:
        """Run on ``inputs`` (checked first, see ``check``) under ``preset`` with ``overrides``."""
        self.check(inputs)
        if self.adapter is not None:
            return self.adapter(inputs, random_state, self.resolve(preset, overrides))
        extra = {"posterior_function": inputs.posterior_function} if POSTERIOR in self.uses else {}
        return self.function(
            inputs.data, inputs.representation_function, random_state, preset=preset, **extra, **overrides
        )
