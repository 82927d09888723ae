"""Kim & Mnih 2018, "Disentangling by Factorising": FactorVAE against β-VAE, the
reconstruction error against the FactorVAE score as γ and β vary (a plot of the paper's;
figure not pinned down, see docs/references.md#kim--mnih-2018, K1–K2), and the score per
γ. FactorVAE draws its permuted codes from a second batch, the paper's procedure as the
project's notes record it (not pinned down, K4); dlib uses the same batch (K5)."""

from disentangle.reproduce.common import CPU_RECIPE, CPU_RECIPE_REASON, DLIB_BASE
from disentangle.reproduce.study import Published, Study, StudyBudget, StudyMethod

#: dlib's grids (docs/references.md#disentanglement_lib-defaults, D2); whether they are the
#: paper's own is not pinned down (docs/references.md#kim--mnih-2018, K6)
METHODS = (
    StudyMethod("factor-vae", "FactorVAE", "factor-vae", "gamma", (10.0, 20.0, 30.0, 40.0, 50.0, 100.0),
                fixed={"tc_batch": "second"}, images_per_row=2),
    StudyMethod("beta-vae", "β-VAE", "beta-vae", "beta", (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)),
)

KIM_MNIH_2018 = Study(
    name="kim-mnih2018",
    citation='Kim & Mnih 2018, "Disentangling by Factorising"',
    question="Does FactorVAE reach a higher FactorVAE score than β-VAE at a lower cost in reconstruction?",
    methods=METHODS,
    metrics=("factor_vae", "mig"),
    scores=("factor_vae.eval_accuracy", "reconstruction.recon", "mig.discrete_mig"),
    base=DLIB_BASE,
    extra_scores=("reconstruction",),
    budgets={
        "cpu-small": StudyBudget(
            "cpu-small", seeds=(0, 1), steps=600, datasets=("dsprites",), preset="fast", checkpoint_every=300,
            values={"factor-vae": (10.0, 40.0, 100.0), "beta-vae": (1.0, 4.0, 16.0)},
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="Three γ and three β, two seeds, 600 steps of 256 images: the shape of the trade-off early in "
            "training (does a higher β cost more reconstruction than a higher γ?). It cannot support the "
            "published scores (≈ 0.8 against ≈ 0.7), which need converged models, nor rank close settings.",
        ),
        "cpu": StudyBudget(
            "cpu", seeds=(0, 1, 2), steps=3_000, datasets=("dsprites",), preset="fast", checkpoint_every=1_000,
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="Both whole grids, three seeds, 3,000 steps of 256 images.",
        ),
        "full": StudyBudget(
            "full", seeds=tuple(range(10)), steps=300_000, datasets=("dsprites",), preset="dlib",
            supports="dlib's training for 300,000 steps, 10 seeds, dSprites.",
        ),
    },
    published=(
        Published("best FactorVAE ≈ 0.8 on the FactorVAE score",
                  "Kim & Mnih 2018, source not pinned down; docs/references.md#kim--mnih-2018 (K1)",
                  "factor_vae.eval_accuracy", "factor-vae"),
        Published("best β-VAE ≈ 0.7 on the FactorVAE score",
                  "Kim & Mnih 2018, source not pinned down; docs/references.md#kim--mnih-2018 (K2)",
                  "factor_vae.eval_accuracy", "beta-vae"),
    ),
    figures=("reconstruction_against_factor_vae", "score_distributions"),
)
