#!/usr/bin/env bash
# The GPU checks as one script, for a machine with a CUDA GPU: the gpu-marked tests, the
# feature-cache benchmark on CUDA, and the classic DANN digits run (source-only vs DANN).
# Logs go to $OUT (default gpu-out/). Wheels in .whl/ (packages the machine lacks) are
# installed first to /tmp/site.
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, torchvision, timm; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'timm', timm.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
python3 -m pytest tests/train/test_devices.py -v -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/gpu_tests.log"
python3 benchmarks/feature_cache.py --device cuda 2>&1 | tail -20 | tee "$OUT/feature_cache_cuda.json"
DIGITS="--target mnist-m --source mnist --backbone dann_digits_cnn --weights none --optimizer sgd --lr 0.01
        --scheduler dann --epochs 20 --batch-size 64 --device cuda"
for s in source_only dann; do
  python3 -m tlcore train $DIGITS --strategy $s --out "/tmp/digits_$s" 2>&1 | tail -10 | tee "$OUT/digits_$s.txt"
  cp "/tmp/digits_$s/summary.json" "$OUT/digits_${s}_summary.json" 2>/dev/null
done
