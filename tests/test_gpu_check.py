"""benchmarks/gpu_check.sh, the GPU section of issue 21, stays runnable without a GPU: with
GPU_CHECK_CPU=1 it runs every step on the CPU at toy sizes and says which CUDA parts it
skipped (the real GPU run is `bash benchmarks/gpu_check.sh` on a lent machine)."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_script_runs_on_the_cpu_and_says_what_it_skipped(tmp_path):
    report = ROOT / "BENCHMARKS.json"
    before = report.stat().st_mtime_ns if report.exists() else None
    env = {**os.environ, "GPU_CHECK_CPU": "1", "OUT": str(tmp_path), "TLSTUDIO_FEATURE_MAPS": "off"}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = (tmp_path / "gpu.txt").read_text()
    assert "skipped: nvidia-smi and the gpu-marked tests (no CUDA GPU)" in summary
    assert "gpu_check done on cpu" in summary
    assert "speed-up" in (tmp_path / "speed_real.txt").read_text()
    assert '"uncached_over_cached"' in (tmp_path / "feature_cache.json").read_text()
    runs = (tmp_path / "runs_list.txt").read_text()
    assert "gpu-check source_only finished device cpu" in runs and "gpu-check dann finished device cpu" in runs
    assert (tmp_path / "speed_real.json").exists()  # its results in $OUT, the checkout's report untouched
    assert (report.stat().st_mtime_ns if report.exists() else None) == before
