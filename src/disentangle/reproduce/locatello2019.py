"""Locatello et al. 2019, "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations": six objectives × six hyperparameters × seeds × datasets,
every dlib metric, UDR; grids from dlib (docs/references.md#disentanglement_lib-defaults)."""

from disentangle.reproduce.common import CPU_RECIPE, CPU_RECIPE_REASON, DLIB_BASE, DLIB_DATASETS
from disentangle.reproduce.study import Published, Study, StudyBudget, StudyMethod

#: the six objectives and dlib's grids (docs/references.md#disentanglement_lib-defaults, D2)
METHODS = (
    StudyMethod("beta-vae", "β-VAE", "beta-vae", "beta", (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)),
    StudyMethod("annealed-vae", "AnnealedVAE", "annealed-vae", "c_max", (5.0, 10.0, 25.0, 50.0, 75.0, 100.0),
                fixed={"gamma": 1000.0}, per_step={"iteration_threshold": 1 / 3}),
    StudyMethod("factor-vae", "FactorVAE", "factor-vae", "gamma", (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)),
    StudyMethod("dip-vae-i", "DIP-VAE-I", "dip-vae-i", "lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
                fixed={"lambda_d_factor": 10.0}),
    StudyMethod("dip-vae-ii", "DIP-VAE-II", "dip-vae-ii", "lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
                fixed={"lambda_d_factor": 1.0}),
    StudyMethod("beta-tcvae", "β-TCVAE", "beta-tcvae", "beta", (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)),
)
SCORES = ("beta_vae.eval_accuracy", "factor_vae.eval_accuracy", "mig.discrete_mig", "dci.disentanglement",
          "modularity_explicitness.modularity_score", "sap.SAP_score")

LOCATELLO_2019 = Study(
    name="locatello2019",
    citation='Locatello et al. 2019, "Challenging Common Assumptions in the Unsupervised Learning of '
    'Disentangled Representations"',
    question="Does the objective, the hyperparameter or the random seed decide how disentangled a model is, do "
    "the metrics agree, and can a model be selected without labels (UDR) or by transferring hyperparameters?",
    methods=METHODS,
    metrics=("beta_vae", "factor_vae", "mig", "dci", "modularity_explicitness", "sap"),
    scores=SCORES,
    base=DLIB_BASE,
    budgets={
        "cpu-small": StudyBudget(
            "cpu-small", seeds=(0, 1), steps=400, datasets=("dsprites",), preset="fast", checkpoint_every=200,
            values={"beta-vae": (2.0, 8.0), "annealed-vae": (10.0, 50.0), "factor-vae": (10.0, 50.0),
                    "dip-vae-i": (2.0, 20.0), "dip-vae-ii": (2.0, 20.0), "beta-tcvae": (2.0, 8.0)},
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="Two hyperparameter values per method, two seeds, 400 steps of 256 images (a seventh of one pass "
            "over dSprites) on one dataset. It can show whether the metrics rank these 24 early models alike and "
            "how wide the seed spread is against the hyperparameter's effect at this length. It cannot rank the "
            "objectives (two seeds, models far from converged), cannot test hyperparameter transfer (one dataset), "
            "and its UDR compares only two seeds per setting (one pair each).",
        ),
        "cpu": StudyBudget(
            "cpu", seeds=(0, 1, 2), steps=1_500, datasets=("dsprites", "color-dsprites"), preset="fast",
            checkpoint_every=500,
            values={"beta-vae": (1.0, 4.0, 16.0), "annealed-vae": (5.0, 25.0, 100.0), "factor-vae": (10.0, 30.0, 100.0),
                    "dip-vae-i": (1.0, 5.0, 50.0), "dip-vae-ii": (1.0, 5.0, 50.0), "beta-tcvae": (1.0, 4.0, 10.0)},
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="Three hyperparameter values spanning each grid, three seeds, two datasets, 1,500 steps of 256 "
            "images: enough to estimate the seed and hyperparameter variance shares and to test transfer between "
            "dSprites and color-dSprites, still far from 300,000 steps (the estimate counts color-dSprites' RGB "
            "images at the measured binary-dSprites rate, so it runs longer).",
        ),
        "full": StudyBudget(
            "full", seeds=tuple(range(50)), steps=300_000, datasets=DLIB_DATASETS, preset="dlib",
            supports="The paper's settings: 6 objectives × 6 values × 50 seeds × 7 datasets = 12,600 models, "
            "dlib's training and metrics. Needs the official files of SmallNORB, Cars3D, Shapes3D and "
            "scream-dSprites' background image (--data-option path=...), a GPU cluster.",
        ),
    },
    published=(
        Published("No objective is consistently better: the scores of every method overlap widely",
                  "Locatello et al. 2019, Section 5.3; docs/references.md#locatello-et-al-2019 (L1)",
                  "mig.discrete_mig", None, "mean"),
        Published("The seed and the hyperparameters move the scores more than the objective",
                  "Locatello et al. 2019, Section 5.3; docs/references.md#locatello-et-al-2019 (L2)"),
        Published("dlib's released models (ids 0–1799, dsprites_full, 300k steps) are the reference "
                  "distribution of every score",
                  "disentanglement_lib, README and unsupervised_study_v1/sweep.py; "
                  "docs/references.md#disentanglement_lib-defaults (D6)"),
    ),
    figures=("score_distributions", "metric_rank_correlation", "seed_variance_share", "udr_model_selection",
             "hyperparameter_transfer"),
    udr=True,
)
