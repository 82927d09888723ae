"""Published studies, each one command: ``disentangle reproduce STUDY --budget cpu-small|cpu|full``.

A study is a declaration (:mod:`disentangle.reproduce.study`): its methods with their
hyperparameter grids (or the representations it fits in its own process: ground
truth, pixels, PCA, ICA, an untrained model), seeds, datasets, metrics, the steps of
each budget, the published values it is compared with and the figures it draws. It
runs through the sweep engine (:mod:`disentangle.reproduce.run`), so it is resumable,
distributable (local workers, Ray, array jobs) and aggregable like any sweep, and
writes ``DIR/report.md`` and ``DIR/report.html``. Adding a study is one module
declaring a ``Study`` plus one line in ``STUDIES``.
"""

from disentangle.reproduce.chen2018 import CHEN_2018
from disentangle.reproduce.higgins2017 import HIGGINS_2017
from disentangle.reproduce.hsu2023 import HSU_2023
from disentangle.reproduce.kim_mnih2018 import KIM_MNIH_2018
from disentangle.reproduce.locatello2019 import LOCATELLO_2019
from disentangle.reproduce.locatello2020_weak import LOCATELLO_2020_WEAK
from disentangle.reproduce.run import dry_run_lines, estimate, plan, reproduce_study
from disentangle.reproduce.study import Published, Study, StudyBudget, StudyMethod

#: study name -> declaration, in the order ``--list`` prints them
STUDIES: dict[str, Study] = {
    study.name: study
    for study in (LOCATELLO_2019, LOCATELLO_2020_WEAK, CHEN_2018, KIM_MNIH_2018, HIGGINS_2017, HSU_2023)
}
#: other names of studies at the command line -> their name in ``STUDIES``
ALIASES = {"higgins": "higgins2017"}

__all__ = [
    "ALIASES", "HIGGINS_2017", "STUDIES", "Published", "Study", "StudyBudget", "StudyMethod", "dry_run_lines",
    "estimate", "plan", "reproduce_study",
]
