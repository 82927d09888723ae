"""Scoring trained runs and other representations: a run's codes with each distinct image
encoded once (``representation``), ``evaluate`` writing a run's ``metrics.json``
(``evaluate``), Higgins et al.'s baseline representations (``baselines``) and UDR over a
set of runs (``udr``)."""
