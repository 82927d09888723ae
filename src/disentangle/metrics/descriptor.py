"""``Metric``: everything the library knows about one metric, declared with its function.

A descriptor holds the metric's name, its function, its settings under the default
``dlib`` preset (disentanglement_lib's, or ours for what dlib lacks) and what the
``fast`` preset changes, the headline scores that tables and plots show, and what
the metric needs from the thing it scores. ``disentangle.metrics.METRICS`` collects the
descriptors; presets, ``evaluate``, sweeps and figures read them, so a new metric is
one module plus one line there.

The settings are a function's signature, written once: the ``@metric(...)`` decorator
reads them and builds the descriptor (``fn.metric``).

- A metric of dlib's contract declares every setting as a keyword-only parameter with
  its dlib default, ``def mig(ground_truth_data, representation_function, random_state,
  *, num_train=10_000, ...)``. The decorated function is called as before,
  ``mig(data, rep, random_state, preset="fast", num_train=5000)``: ``preset`` (default
  ``"dlib"``) fills the settings not given, ``Metric.resolve`` checks them, an
  ``n_jobs`` of ``None`` becomes the CPUs available (``resolve_n_jobs``), and the result
  gets ``"settings"``: every setting used plus ``preset``. A function that resolves a
  setting further (a default of ``None`` made concrete) returns the new values under
  ``"settings"``, and they replace the given ones there.
- A function outside that contract (the diagnostics of a posterior, which take the
  posterior or a decoder rather than codes) keeps its own signature; its adapter, how
  ``evaluate`` calls it, ``adapter(inputs, random_state, *, settings...)``, declares the
  settings as keyword-only parameters instead and is decorated with
  ``@metric(..., function=the_function)``.

Needs, and the ``Inputs`` field that offers each:

- ``codes``: ``representation_function``, observations → codes ``(N, D)`` (every
  metric of dlib's contract ``fn(ground_truth_data, representation_function,
  random_state, preset="dlib", **settings)``);
- ``posterior``: ``posterior_function``, observations → ``(mean, logvar)`` of a
  diagonal Gaussian q(z|x), each ``(N, D)``;
- ``likelihood``: ``log_likelihood(observations, z)``, z ``(n, s, D)`` → log p(x|z)
  ``(n, s)`` in nats, summed over the observation (a decoder).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from disentangle.errors import InputError
from disentangle.resources import available_cpus

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
        settings: every setting with its default (the ``dlib`` preset): the keyword-only
            parameters of the function (or of its adapter), documented there.
        headline: the scores that tables and plots show, in order.
        fast: the settings the ``fast`` preset changes (why, and what that moves: docs/metrics.md).
        needs: what it cannot run without (``NEEDS``).
        uses: what it uses when offered (MIG's Chen estimator: the posterior).
        default: whether ``evaluate`` runs it when no metrics are named (dlib's seven).
        standard_normal_prior: whether its formulas take the model's prior to be
            p(z) = N(0, I) (the ELBO decomposition, the importance-weighted bound); a model
            declaring another prior is refused.
        adapter: how ``evaluate`` calls a function outside dlib's contract:
            ``adapter(inputs, random_state, **settings)`` with the resolved ``settings``.
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
    standard_normal_prior: bool = False

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
            settings = self.resolve(preset, overrides)
            return self.adapter(inputs, random_state, **{name: settings[name] for name in self.settings})
        extra = {"posterior_function": inputs.posterior_function} if POSTERIOR in self.uses else {}
        return self.function(
            inputs.data, inputs.representation_function, random_state, preset=preset, **extra, **overrides
        )


def resolve_n_jobs(metric: str, n_jobs) -> int:
    """``n_jobs``, or the CPUs available when ``None``; a positive integer, else ``InputError``."""
    if n_jobs is None:
        return available_cpus()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise InputError(f"{metric}: n_jobs must be a positive integer or None, got {n_jobs!r}")
    return int(n_jobs)


def metric(
    name: str,
    *,
    headline: tuple[str, ...],
    fast: Mapping[str, object] | None = None,
    needs: tuple[str, ...] = (CODES,),
    uses: tuple[str, ...] = (),
    default: bool = False,
    function: Callable[..., dict] | None = None,
    standard_normal_prior: bool = False,
) -> Callable:
    """Declare a metric: its settings are the decorated function's keyword-only parameters
    and their defaults; the other arguments are ``Metric``'s (see the module docstring).

    Without ``function`` the decorated function is a metric of dlib's contract, and the
    result is that function taking ``preset`` and checked settings. With ``function``
    the decorated function is the adapter through which ``evaluate`` calls ``function``,
    and is returned as it is. Either way the descriptor is the result's ``.metric``.
    """

    def declare(defined: Callable) -> Callable:
        parameters = inspect.signature(defined).parameters.values()
        settings = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}
        if function is not None:
            defined.metric = Metric(name, function, settings, headline, dict(fast or {}), needs, uses, default,
                                    adapter=defined, standard_normal_prior=standard_normal_prior)
            return defined
        # The inputs (data, representation, random state, ...) with ``preset`` after the required ones.
        inputs = [p for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        required = sum(p.default is p.empty for p in inputs)
        preset = inspect.Parameter("preset", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="dlib")
        inputs.insert(required, preset)
        signature = inspect.Signature(inputs)

        @functools.wraps(defined)
        def resolved(*args, **kwargs):
            given = signature.bind(*args, **{key: kwargs[key] for key in kwargs if key in signature.parameters})
            given.apply_defaults()
            arguments = dict(given.arguments)
            overrides = {key: value for key, value in kwargs.items() if key not in signature.parameters}
            chosen = descriptor.resolve(arguments.pop("preset"), overrides)
            if "n_jobs" in chosen:
                chosen["n_jobs"] = resolve_n_jobs(name, chosen["n_jobs"])
            result = defined(**arguments, **{key: chosen[key] for key in settings})
            scores = {key: value for key, value in result.items() if key != "settings"}
            return {**scores, "settings": {**chosen, **result.get("settings", {})}}

        resolved.__signature__ = inspect.signature(defined).replace(
            parameters=[*inputs, *(p for p in parameters if p.kind is p.KEYWORD_ONLY)]
        )
        descriptor = Metric(name, resolved, settings, headline, dict(fast or {}), needs, uses, default,
                            standard_normal_prior=standard_normal_prior)
        resolved.metric = descriptor
        return resolved

    return declare
