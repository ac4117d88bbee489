#!/usr/bin/env bash
# The GPU checks, on a machine with PyTorch and a GPU but no registry access (the device tool's H200):
# the project's missing dependencies come as wheels in .whl/, and the package is registered by a
# hand-written dist-info (its entry points) instead of a pip install. Prints what it measured.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
info=/tmp/site/hyperion_tune-0.1.0.dist-info; mkdir -p "$info"
printf 'Metadata-Version: 2.1\nName: hyperion-tune\nVersion: 0.1.0\n' > "$info/METADATA"
python3 - "$info/entry_points.txt" <<'PY'
import sys, tomllib
eps = tomllib.load(open("pyproject.toml", "rb"))["project"]["entry-points"]["hyperion"]
open(sys.argv[1], "w").write("[hyperion]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
PY
export PYTHONPATH=/tmp/site:$PWD:$PWD/plugins PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import hyperion, torch; print('hyperion', hyperion.__version__, 'torch', torch.__version__, 'gpus', torch.cuda.device_count())"
python3 -m hyperion plugins list --json | python3 -c "import json,sys; print([p['name'] for p in json.load(sys.stdin)])"
SECONDS=0
python3 examples/pytorch_gpu.py --trials 12 2>&1 | tee "$OUT/example.log"
echo "example wall seconds: $SECONDS"
python3 -m pytest -q -m torch -p no:cacheprovider tests/test_examples.py \
  "tests/plugins/test_integrations.py::test_lightning_and_transformers_stop_training_the_frameworks_way" 2>&1 | tee "$OUT/pytest.log"
