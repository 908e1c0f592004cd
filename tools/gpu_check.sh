#!/usr/bin/env bash
# The GPU check of issue 14 in one call, for a machine with Python and PyTorch but no network and no project venv:
# installs excel_nb (this working tree) and the wheels in .whl/ (tools/fetch_gpu_wheels.sh gathers them) into a
# fresh target folder, without the network and without dependencies (the machine's own torch stays in charge), then
# runs tools/gpu_check.py, which writes gpu_check.json, gpu_check.md and gpu_check.log to --out (default $OUT).
#
#   tools/gpu_check.sh --out "$OUT"                              # on a CUDA machine (about 4 minutes on an H200)
#   tools/gpu_check.sh --device cpu --dry-run --out /tmp/gc      # the whole check at small sizes on the CPU
#
# Options of this script (the others go to tools/gpu_check.py; see `python3 tools/gpu_check.py --help`):
#   --python PY     interpreter that has torch (default: $PYTHON or python3)
#   --wheels DIR    wheels to install first (default .whl; 'none' for none)
#   --site DIR      install target (default: a new folder under /tmp)
#   --no-install    use the excel_nb that PY already imports (e.g. a development venv)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}; WHEELS=.whl; SITE=""; SITE_PROJECT=""; INSTALL=1; ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY=$2; shift 2;;
    --wheels) WHEELS=$2; shift 2;;
    --site) SITE=$2; shift 2;;
    --no-install) INSTALL=0; shift;;
    *) ARGS+=("$1"); shift;;
  esac
done
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

if [ "$INSTALL" = 1 ]; then
  t0=$(date +%s.%N)
  SITE=${SITE:-$(mktemp -d /tmp/excel_nb_site.XXXXXX)}
  if [ "$WHEELS" != none ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    echo "gpu_check: installing $(ls "$WHEELS"/*.whl | xargs -n1 basename | tr '\n' ' ')-> $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl \
      || { echo "gpu_check: installing the wheels in $WHEELS failed" >&2; exit 3; }
  elif [ "$WHEELS" != none ]; then
    echo "gpu_check: no wheels in $WHEELS/ (tools/fetch_gpu_wheels.sh makes them); using what $PY has"
  fi
  # build from a clean copy of the package files, so that nothing is written into the working tree
  SRC=$(mktemp -d /tmp/excel_nb_src.XXXXXX)
  cp -r setup.py settings.ini pyproject.toml README.md excel_nb "$SRC"/ && rm -rf "$SRC"/excel_nb/__pycache__
  if ! "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
      --target "$SITE" "$SRC"; then
    # (e.g. no setuptools there to build with): the package imports from the tree itself just as well
    echo "gpu_check: installing excel_nb from this tree failed; importing it from $PWD instead" >&2
    SITE_PROJECT=$PWD
  fi
  rm -rf "$SRC"
  export PYTHONPATH="$SITE${SITE_PROJECT:+:$SITE_PROJECT}${PYTHONPATH:+:$PYTHONPATH}"
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  echo "gpu_check: installed in $secs s"
  ARGS+=(--installed-at "$SITE" --install-seconds "$secs")
fi
exec "$PY" tools/gpu_check.py "${ARGS[@]}"
