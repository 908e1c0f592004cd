#!/usr/bin/env bash
# Gather into .whl/ the wheels that the GPU machine lacks, for tools/gpu_check.sh to install there without network.
# Run this where PyPI is reachable (not on the GPU machine). The GPU machine has Python 3.12 with torch, torchvision,
# numpy, opencv, pillow, scikit-learn, scipy, pandas, matplotlib, seaborn, safetensors, pyyaml, tqdm, regex,
# huggingface-hub and timm (/work/.library/device/KINDS.md); what excel_nb needs beyond those:
#   open_clip_torch 3.3 (as constraints.txt) and its dependencies not on that machine: ftfy -> wcwidth (pure Python);
#   pydensecrf2 1.1 (DenseCRF for `infer --crf` and the pipeline parity case): no cp312 wheel on PyPI, so it is
#   built here with a Python 3.12 interpreter (pyenv's by default; 30 s to 2 min), without debug symbols
#   (-g0, stripped: 0.3 MB instead of 3.6 MB; the working tree that travels to the GPU machine is limited to 64 MiB).
# Versions are those of the project's tested environment. One version of each package: older wheels are removed.
# Usage: tools/fetch_gpu_wheels.sh [DEST]   (DEST default .whl; PY312=/path/to/python3.12 to choose the builder)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.whl}
PY=${PYTHON:-python3}
PY312=${PY312:-$HOME/.pyenv/versions/3.12.1/bin/python}
PURE=("open_clip_torch==3.3.0" "ftfy==6.3.1" "wcwidth==0.9.4")
CRF="pydensecrf2==1.1"

mkdir -p "$DEST"
# keep one version of each: pip refuses an install that names two versions of a package
rm -f "$DEST"/open_clip_torch-*.whl "$DEST"/ftfy-*.whl "$DEST"/wcwidth-*.whl "$DEST"/pydensecrf2-*.whl

"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$DEST" "${PURE[@]}"

"$PY312" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' \
    || { echo "fetch_gpu_wheels: $PY312 is not Python 3.12 (set PY312=...)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "fetch_gpu_wheels: pydensecrf2 must be built on x86-64 (this is $(uname -m))" >&2; exit 1; }
# the build needs Cython and numpy in an isolated build environment that pip fetches from PyPI; no cache, so that
# the flags apply (a cached wheel would be reused as it was built)
CFLAGS="-g0" LDFLAGS="-s" "$PY312" -m pip wheel -q --no-cache-dir --no-deps -w "$DEST" "$CRF"

echo "wheels in $DEST:"
ls -l "$DEST"/*.whl | awk '{printf "  %-60s %8.1f kB\n", $NF, $5 / 1024}'
du -ch "$DEST"/*.whl | tail -1
