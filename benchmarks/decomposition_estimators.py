"""How far the minibatch estimates of Chen's decomposition of the KL are from its values.

For a trained run with a Gaussian posterior (default: the quick-start run), prints the
last interval of its training log (the minibatch terms β-TCVAE logs) beside
``elbo_decomposition`` over the dataset with each estimator: the minibatch ones (MWS,
MSS) at ``--batch-sizes``, and the exact one (every posterior of the dataset as q(z),
Chen's reference) on ``--exact-samples`` (x, z) pairs. All in nats; seed 0.

    python benchmarks/decomposition_estimators.py [--run runs/quickstart]
        [--samples 10000] [--batch-sizes 256 64] [--exact-samples 500]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np

from disentangle.scoring.evaluate import memoised_run_encoder
from disentangle.metrics.elbo_decomposition import elbo_decomposition
from disentangle.train import load_run
from disentangle.run_folder import read_log

TERMS = ("index_code_mi", "total_correlation", "dimwise_kl", "average_kl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("--samples", type=int, default=10_000, help="(x, z) pairs of the minibatch estimators")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--exact-samples", type=int, default=500)
    args = parser.parse_args()

    loaded = load_run(args.run)
    memo = memoised_run_encoder(loaded.model, loaded.dataset)
    size = len(loaded.dataset)
    elbo_decomposition(memo.posterior, size, np.random.RandomState(0), estimator="mss", num_samples=64)  # encodes
    last = read_log(loaded.path)[-1]
    logged = {key: value for key, value in last.items() if key.startswith(("index_code_mi", "tc", "dimwise_kl", "kl"))
              and isinstance(value, float)}
    print(f"run {loaded.path}, step {loaded.step:,}, N = {size:,}, latent_dim = {loaded.model.latent_dim}")
    print("training log, last interval: " + ", ".join(f"{key} {value:.2f}" for key, value in logged.items()))
    print(f"{'estimator':<10}{'samples':>9}{'batch':>7}" + "".join(f"{term:>19}" for term in TERMS) + f"{'seconds':>9}")
    runs = [(estimator, args.samples, batch) for batch in args.batch_sizes for estimator in ("mws", "mss")]
    for estimator, samples, batch in [*runs, ("exact", args.exact_samples, 0)]:
        started = time.perf_counter()
        result = elbo_decomposition(memo.posterior, size, np.random.RandomState(0), estimator=estimator,
                                    num_samples=samples, batch_size=max(batch, 2))
        seconds = time.perf_counter() - started
        print(f"{estimator:<10}{samples:>9,}{batch or '—':>7}" + "".join(f"{result[t]:>19.2f}" for t in TERMS)
              + f"{seconds:>9.1f}", flush=True)
    print(f"command: python {shlex.join(sys.argv)}")


if __name__ == "__main__":
    main()
