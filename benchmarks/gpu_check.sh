#!/usr/bin/env bash
# The GPU checks as one script (under 10 minutes on one GPU), for a machine with a CUDA GPU:
#   1. the gpu-marked tests;
#   2. the realistic speed benchmark (speed-real: trainer vs the tutorial loop) on CUDA, the
#      trainer with its automatic bf16/fp16 autocast and channels_last;
#   3. the feature cache on CUDA (the head trained with full batches on the device);
#   4. a DA method end to end: source only vs DANN on mnist -> mnist-m, the paper's CNN;
#   5. the dashboard's worker on the GPU, seen from the CLI: a run submitted to a run store
#      (as the Train page does), then `runs list` showing its device.
# Without a GPU (GPU_CHECK_CPU=1, or no nvidia-smi) it runs the same steps on the CPU at toy
# sizes and says which CUDA parts it skipped and why: tests/test_gpu_check.py runs it so.
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
if [ "${GPU_CHECK_CPU:-0}" != "1" ] && command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
  DEVICE=cuda MODE=--full EPOCHS=20 PER_CLASS="" CACHE_ARGS="--img-size 160 --epochs 20"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
else
  DEVICE=cpu MODE=--quick EPOCHS=1 PER_CLASS="--per-class 20" CACHE_ARGS="--img-size 32 --epochs 2"
  export TLSTUDIO_SPEED_REAL_FREEZES=last:1  # one freeze plan of three: the CPU run only checks it runs
  echo "skipped: nvidia-smi and the gpu-marked tests (no CUDA GPU); the rest runs on the CPU at toy sizes" \
    | tee "$OUT/gpu.txt"
fi
python3 -c "import torch, torchvision, timm; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
'timm', timm.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA')" \
  | tee -a "$OUT/gpu.txt"
if [ "$DEVICE" = cuda ]; then
  python3 -m pytest tests/train/test_devices.py -v -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/gpu_tests.log"
fi
# 2. speed-real on the device; results into $OUT, not the checkout's BENCHMARKS files.
TLSTUDIO_BENCH_DEVICE=$DEVICE python3 -m benchmarks $MODE --only speed-real --out "$OUT/speed_real.json" \
  --no-report 2>&1 | tail -25 | tee "$OUT/speed_real.txt"
# 3. the feature cache on the device.
python3 benchmarks/feature_cache.py --device "$DEVICE" $CACHE_ARGS 2>&1 | tail -20 | tee "$OUT/feature_cache.json"
# 4. and 5.: DANN end to end, recorded in a run store as the dashboard's worker records it.
DIGITS="--target mnist-m --source mnist --target-labels 0 --backbone dann_digits_cnn --weights none --freeze none
        --img-size 28 --epochs $EPOCHS $PER_CLASS --device $DEVICE --map-every 0"
for s in source_only dann; do
  python3 -m tlcore train $DIGITS --strategy $s --runs-dir "$OUT/runs" --name "gpu-check $s" 2>&1 | tail -10 \
    | tee "$OUT/digits_$s.txt"
done
python3 -m tlcore runs list --json --runs-dir "$OUT/runs" > "$OUT/runs_list.json" 2>&1
python3 -c "import json, sys; [print(r['name'], r['status'], 'device', r['device'], 'test acc', r['target.test.accuracy'])
 for r in json.load(open(sys.argv[1]))]" "$OUT/runs_list.json" | tee "$OUT/runs_list.txt"
echo "gpu_check done on $DEVICE" | tee -a "$OUT/gpu.txt"
