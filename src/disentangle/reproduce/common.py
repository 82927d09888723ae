"""Settings shared by the studies' declarations: dlib's training (the ``full`` budgets)
and the CPU recipe of the ``cpu-small`` and ``cpu`` budgets."""

#: dlib's training (Locatello et al. 2019; docs/references.md#disentanglement_lib-defaults, D1 and D3):
#: 10 latents, dlib's conv nets, Bernoulli decoder, batch 64, Adam 1e-4; the base of every study's
#: ``full`` budget
DLIB_BASE = {
    "model": {"latent_dim": 10, "likelihood": "bernoulli", "architecture": "conv-2x2"},
    "train": {"batch_size": 64, "optimizer": "adam", "learning_rate": 1e-4},
}
#: the seven datasets of Locatello et al. 2019 (dlib's names); all but dSprites and its
#: colour and noise variants read official files (``disentangle data list``)
DLIB_DATASETS = ("dsprites", "color-dsprites", "noisy-dsprites", "scream-dsprites", "smallnorb", "cars3d", "shapes3d")
#: the CPU quick-start recipe (configs/quickstart-dsprites.yaml): Higgins' MLP nets, Adam 1e-3, batch 256
CPU_RECIPE = {
    "model": {"architecture": "mlp"},
    "train": {"batch_size": 256, "learning_rate": 1e-3, "log_every": 50},
}
CPU_RECIPE_REASON = (
    "dlib's conv nets at Adam 1e-4 and batch 64 learn too slowly for minutes of CPU (MIG 0.040 after 3 minutes, "
    "docs/results.md); the quick-start recipe (MLP nets, Adam 1e-3, batch 256) was the fastest to disentangle "
    "dSprites of the nine recipes measured there. Every method trains with it, so methods stay comparable, but "
    "the hyperparameters' meaning at 300,000 steps of dlib's setting does not carry over one to one."
)
