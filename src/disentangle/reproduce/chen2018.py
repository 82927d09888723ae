"""Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs": MIG against β for
β-VAE and β-TCVAE on dSprites (the paper plots it; figure not pinned down, see
docs/references.md#chen-et-al-2018, C1–C2), with dlib's MIG (20-bin histograms of sampled
points) and Chen et al.'s (posterior densities over the dataset, shape excluded)."""

from disentangle.reproduce.common import CPU_RECIPE, CPU_RECIPE_REASON, DLIB_BASE
from disentangle.reproduce.study import Published, Study, StudyBudget, StudyMethod

#: dlib's β-TCVAE grid (docs/references.md#disentanglement_lib-defaults, D2), for both
#: objectives; Chen et al.'s own β values are not pinned down (docs/references.md#chen-et-al-2018, C3)
BETAS = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
METHODS = (
    StudyMethod("beta-vae", "β-VAE", "beta-vae", "beta", BETAS),
    StudyMethod("beta-tcvae", "β-TCVAE", "beta-tcvae", "beta", BETAS),
)

CHEN_2018 = Study(
    name="chen2018",
    citation='Chen et al. 2018, "Isolating Sources of Disentanglement in Variational Autoencoders"',
    question="Does penalising only the total correlation (β-TCVAE) reach a higher MIG than penalising the whole "
    "KL (β-VAE) at the same β, and do the two MIG estimators agree?",
    methods=METHODS,
    metrics=("mig",),
    scores=("mig.discrete_mig", "mig_chen.mig"),
    base=DLIB_BASE,
    extra_scores=("mig_chen",),
    budgets={
        "cpu-small": StudyBudget(
            "cpu-small", seeds=(0, 1), steps=800, datasets=("dsprites",), preset="fast", checkpoint_every=400,
            values={"beta-vae": (1.0, 4.0, 8.0), "beta-tcvae": (1.0, 4.0, 8.0)},
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="Three β, two seeds, 800 steps of 256 images: a first look at MIG against β for both "
            "objectives and at how far the two estimators differ on the same models. It cannot support 'β-TCVAE ≥ "
            "β-VAE at matched β' beyond the seed spread, nor the published level of MIG (0.3–0.4), which needs "
            "converged models.",
        ),
        "cpu": StudyBudget(
            "cpu", seeds=(0, 1, 2), steps=4_000, datasets=("dsprites",), preset="fast", checkpoint_every=1_000,
            sections=CPU_RECIPE, deviation=CPU_RECIPE_REASON,
            supports="The whole β grid, three seeds, 4,000 steps of 256 images (1.4 passes over dSprites).",
        ),
        "full": StudyBudget(
            "full", seeds=tuple(range(50)), steps=300_000, datasets=("dsprites",), preset="dlib",
            supports="dlib's training for 300,000 steps, 50 seeds, dSprites.",
        ),
    },
    published=(
        Published("best MIG ≈ 0.3–0.4 (Chen's estimator)",
                  "Chen et al. 2018, source not pinned down; docs/references.md#chen-et-al-2018 (C1)",
                  "mig_chen.mig", "beta-tcvae"),
        Published("β-TCVAE ≥ β-VAE at matched β: β-TCVAE's mean over β",
                  "Chen et al. 2018, source not pinned down; docs/references.md#chen-et-al-2018 (C2)",
                  "mig_chen.mig", "beta-tcvae", "mean"),
        Published("β-TCVAE ≥ β-VAE at matched β: β-VAE's mean over β",
                  "Chen et al. 2018, source not pinned down; docs/references.md#chen-et-al-2018 (C2)",
                  "mig_chen.mig", "beta-vae", "mean"),
    ),
    figures=("mig_against_beta", "score_distributions"),
)
