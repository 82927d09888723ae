#!/usr/bin/env bash
# Download the wheels benchmarks/gpu_session.py may have to install on a lent GPU machine
# without internet (Python 3.12, x86_64, its own CUDA PyTorch, NumPy, SciPy, scikit-learn,
# numba and safetensors): the pure-Python or manylinux wheels of the other packages
# disentangle imports, into build/gpu-wheels (ignored by git). Run it here, where the
# package registries are reachable; carry build/gpu-wheels to the device and pass
#   python benchmarks/gpu_session.py --out gpu-session --wheels build/gpu-wheels
#
# Each package is pinned to the version in .venv where it is installed there (the versions
# the tests ran with), else the newest. The platforms: manylinux_2_28 (glibc ≥ 2.28, which
# PyTorch's recent CUDA wheels require too; pillow's and h5py's newest versions exist for it
# only) and manylinux2014 (glibc ≥ 2.17: protobuf's wheel).
# NumPy, SciPy and torch are not fetched: the device's own builds must be used.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$repo/.venv/bin/python"
[ -x "$python" ] || python=python3
out="$repo/build/gpu-wheels"
mkdir -p "$out"

# distribution names as pip knows them; tensorboard (with protobuf and absl-py) is what
# torch.utils.tensorboard needs to write every training run's events
requirements=()
for name in pyyaml pillow tqdm h5py tensorboard protobuf absl-py; do
  version="$("$python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name" 2>/dev/null || true)"
  requirements+=("$name${version:+==$version}")
done

"$python" -m pip download --only-binary=:all: --no-deps --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$out" "${requirements[@]}"
echo "wheels in $out:"
ls -1 "$out"
