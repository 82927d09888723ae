"""Deprecated: ``disentangle.evaluate`` moved to ``disentangle.scoring.evaluate``; this
name keeps working, with a ``DeprecationWarning``, until 0.2."""

import warnings

from disentangle.scoring.evaluate import *  # noqa: F403 - the moved module's public names
from disentangle.scoring.evaluate import evaluate, score_representation  # noqa: F401

warnings.warn("disentangle.evaluate is now disentangle.scoring.evaluate", DeprecationWarning, stacklevel=2)
