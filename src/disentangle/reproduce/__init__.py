"""Published studies, each one command: ``disentangle reproduce STUDY --budget cpu-small|cpu|full``.

A study is a declaration (:mod:`disentangle.reproduce.study`): its methods with their
hyperparameter grids, seeds, datasets, metrics, the steps of each budget, the published
values it is compared with and the figures it draws. It runs through the sweep engine
(:mod:`disentangle.reproduce.run`), so it is resumable, distributable (local workers,
Ray, array jobs) and aggregable like any sweep, and writes ``DIR/report.md`` and
``DIR/report.html``. Adding a study is one module declaring a ``Study`` plus one line in
``STUDIES``.

``higgins2017`` (Higgins et al. 2017, Table 1; ``higgins`` at the command line too) is a
table of baselines (raw pixels, PCA, ICA, the factors) and trained models scored under
two protocols of one metric: its declaration (:mod:`disentangle.reproduce.higgins2017`:
``Method`` rows, ``Budget``) trains its models through the same sweep engine and fits
and scores every row in the command's process.
"""

from disentangle.reproduce.chen2018 import CHEN_2018
from disentangle.reproduce.higgins2017 import BUDGETS, HIGGINS_2017, PAPERS, Budget, Method, reproduce
from disentangle.reproduce.kim_mnih2018 import KIM_MNIH_2018
from disentangle.reproduce.locatello2019 import LOCATELLO_2019
from disentangle.reproduce.locatello2020_weak import LOCATELLO_2020_WEAK
from disentangle.reproduce.run import dry_run_lines, estimate, plan, reproduce_study
from disentangle.reproduce.study import Published, Study, StudyBudget, StudyMethod

#: study name -> declaration, in the order ``--list`` prints them
STUDIES: dict[str, Study] = {
    study.name: study for study in (LOCATELLO_2019, LOCATELLO_2020_WEAK, CHEN_2018, KIM_MNIH_2018)
}
#: names of the table reproductions (``higgins2017``'s runner) -> their key in ``PAPERS``
TABLES = {"higgins2017": "higgins", "higgins": "higgins"}

__all__ = [
    "BUDGETS", "HIGGINS_2017", "PAPERS", "STUDIES", "TABLES", "Budget", "Method", "Published", "Study", "StudyBudget",
    "StudyMethod", "dry_run_lines", "estimate", "plan", "reproduce", "reproduce_study",
]
