#!/usr/bin/env bash
# Set up llmlab in ./.venv: a Python >= 3.11 virtual environment, torch 2.13.0 (the CPU build
# unless --cuda), and llmlab itself, editable. Safe to run again: it only adds what is missing.
#
#   scripts/setup.sh            the package and the `llmlab` command
#   scripts/setup.sh --dev      also the test tools, and pulls every registry asset for the tests
#   scripts/setup.sh --cuda     take torch's CUDA build instead (Linux with an NVIDIA GPU)
#
# PYTHON=python3.12 scripts/setup.sh picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
torch_build=cpu
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --cuda) torch_build=cuda ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

TORCH_VERSION=2.13.0
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup.sh: llmlab needs Python >= 3.11; '$PY' is $("$PY" --version 2>&1). Set PYTHON=python3.11 (or newer)." >&2
  exit 1
fi
[ -x .venv/bin/python ] || { echo "==> creating .venv with $("$PY" --version)"; "$PY" -m venv .venv; }
VPY=.venv/bin/python
pip_install() { "$VPY" -m pip install --disable-pip-version-check --progress-bar off "$@"; }

have_torch() {
  "$VPY" - "$TORCH_VERSION" "$1" <<'PY' 2>/dev/null
import sys
import torch
want, build = sys.argv[1], sys.argv[2]
ok = torch.__version__.split("+")[0] == want and (build == "cuda") == (torch.version.cuda is not None)
sys.exit(0 if ok else 1)
PY
}

if have_torch "$torch_build"; then
  echo "==> torch $TORCH_VERSION ($torch_build) already installed"
elif [ "$torch_build" = cuda ]; then
  echo "==> installing torch $TORCH_VERSION with CUDA (several GB)"
  pip_install "torch==$TORCH_VERSION"
elif pip_install --dry-run --no-deps --no-index --quiet "torch==$TORCH_VERSION+cpu" >/dev/null 2>&1; then
  # A CPU wheel is already reachable without an index (a local wheel folder in pip's config).
  echo "==> installing torch $TORCH_VERSION (CPU build, local wheel)"
  pip_install "torch==$TORCH_VERSION+cpu"
elif [ "$(uname -s)" = Linux ]; then
  # On Linux the default torch wheel bundles CUDA (several GB); PyTorch's CPU index has the small one.
  echo "==> installing torch $TORCH_VERSION (CPU build from PyTorch's CPU index)"
  pip_install "torch==$TORCH_VERSION+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
else
  echo "==> installing torch $TORCH_VERSION (macOS and Windows wheels are CPU/MPS builds)"
  pip_install "torch==$TORCH_VERSION"
fi

if [ "$dev" = 1 ]; then
  echo "==> installing llmlab (editable) with the test tools"
  pip_install -e ".[dev]"
  echo "==> pulling every registry asset the tests use"
  .venv/bin/llmlab assets pull --all
else
  echo "==> installing llmlab (editable)"
  pip_install -e .
fi
echo "==> done: run .venv/bin/llmlab --help"
