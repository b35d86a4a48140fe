#!/usr/bin/env bash
# Install detectron2 into the interpreter given as $1 (default: python3).
#
# Route 1 (GPU users, any Python): build upstream detectron2 from source *before* running this
#   script, e.g. `pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'`.
#   An importable detectron2 is always kept as it is.
# Route 2 (CPU machines, no compiler toolchain for CUDA): PyPI's `sal-detectron2==0.7.2`, upstream
#   detectron2 of 2024 repackaged. Its wheel is tagged cp310, so pip refuses it on 3.11; we download
#   it for 3.10 and unpack it with `installer`. The compiled `detectron2._C` then cannot load on
#   3.11 and detectron2 falls back to pure Python / torchvision ops (no deformable conv from
#   detectron2, pycocotools COCOeval instead of the fast one). d2dense never needs `_C`.
set -euo pipefail
PY="${1:-python3}"
if "$PY" -c "import detectron2" 2>/dev/null; then
  echo "detectron2 already importable: $("$PY" -c 'import detectron2, os; print(detectron2.__version__, os.path.dirname(detectron2.__file__))')"
  exit 0
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.10 \
  sal-detectron2==0.7.2 -d "$TMP"
"$PY" -m pip install installer
"$PY" -m installer "$TMP"/*.whl
"$PY" -c "import detectron2; print('installed detectron2', detectron2.__version__)"
