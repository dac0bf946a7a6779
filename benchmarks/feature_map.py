"""Feature-map performance, side by side in one run on this machine:

  core (real features: the pretrained default on a 2,000-point probe of mnist + syndigits
  at 64 px):
    * UMAP layout of 2,000 points in a warm process: fresh, and refined from the previous
      layout (as every snapshot after the first is), against umap-learn's own path;
    * numba: a fresh process's warm-up with an empty cache vs with the on-disk cache;
    * continuity: Procrustes disparity of a refit of unchanged features from the previous
      layout, against an independent layout of the same features;
    * the PCA view (shown at once) and the domain-gap numbers;
  browser (headless Chromium against `streamlit run`, --browser):
    * a new snapshot's view on screen: from the snapshot file written to the map shown;
    * a click while a layout process computes (cold numba: 20-40 s busy) vs while idle;
    * the server's memory across 20 redraws of the map.

    python benchmarks/feature_map.py [--parts core,browser]

Prints JSON; BENCHMARKS.md quotes it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tlcore.embed import layout  # noqa: E402
from tlcore.embed.snapshots import write_probe, write_snapshot  # noqa: E402


def timed(fn, repeats=3):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def probe_features():
    from tlcore.config import DataConfig, RunConfig
    from tlcore.data.run_data import prepare_data
    from tlcore.data.thumbnails import thumbnails
    from tlcore.embed.pretrained import pretrained_probe
    from tlcore.embed.probe import probe_record
    data = prepare_data(RunConfig(data=DataConfig(target="syndigits", source="mnist", per_class=150,
                                                  target_labels_per_class=0)), False)
    parts, f = pretrained_probe(data, "efficientnet_lite0", "imagenet", 64, 1000, 0)
    probe = probe_record(parts, data.class_names)
    return f, probe, np.concatenate([thumbnails(s, i) for _, s, i, _ in parts])


def warm_up_in_fresh_process(cache_dir: Path) -> float:
    code = "from tlcore.embed.layout import warm_up; print(warm_up())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def core(f, probe) -> dict:
    import umap
    domain, label = np.asarray(probe["domain"]), np.asarray(probe["label"])
    layout.warm_up()
    out = {"points": len(f), "feature_dim": int(f.shape[1])}
    _, out["pca_view_s"] = timed(lambda: layout.pca_layout(f))
    first, out["umap_fresh_s"] = timed(lambda: layout.umap_layout(f))
    refined, out["umap_refined_s"] = timed(lambda: layout.umap_layout(f, first))
    x = layout.reduce(f)
    _, out["umap_learn_default_path_s"] = timed(lambda: umap.UMAP().fit_transform(x), repeats=1)
    out["speedup_vs_umap_learn_default"] = round(out["umap_learn_default_path_s"] / out["umap_refined_s"], 1)
    _, out["gap_numbers_s"] = timed(lambda: layout.gap_numbers(f, domain, label), repeats=1)
    # Continuity on unchanged features: refined from the previous layout vs laid out anew.
    out["disparity_refined"] = [round(layout.disparity(first, layout.umap_layout(f, first)), 4) for _ in range(3)]
    out["disparity_independent"] = [round(layout.disparity(first, layout.umap_layout(f)), 4) for _ in range(3)]
    with tempfile.TemporaryDirectory() as tmp:
        cold = warm_up_in_fresh_process(Path(tmp))
        cached = warm_up_in_fresh_process(Path(tmp))
    out.update(numba_cold_process_s=round(cold, 1), numba_cached_process_s=round(cached, 1),
               numba_cache_speedup=round(cold / cached, 1))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def colour_button(page, name: str):
    import re
    return page.locator("[data-testid=stMain] button").filter(has_text=re.compile(f"^{name}$"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def browser(f, probe, thumbs) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    sys.path.insert(0, str(ROOT / "tests"))
    from playwright.sync_api import sync_playwright
    from test_app import CHROMIUM, open_page, start_server, wait_idle

    from tlcore.config import RunConfig
    from tlcore.runs import RunStore
    tmp = Path(tempfile.mkdtemp())
    store = RunStore(tmp / "runs")
    run_id = store.create_run(RunConfig(), "map benchmark")
    folder = store.get(run_id).files.snapshots
    write_probe(folder, probe, thumbs)
    rng = np.random.default_rng(0)
    xy, pred = layout.umap_layout(f), rng.integers(0, 10, len(f)).tolist()
    pca = layout.pca_layout(f)

    def add(epoch, umap_xy=None, features=None):
        write_snapshot(folder, {"epoch": epoch, "pred": pred, "pca": pca.tolist(),
                                "umap": None if umap_xy is None else umap_xy.tolist(),
                                "gap": None if umap_xy is None else {"a_distance": 1.9, "mmd": 1.0,
                                                                     "knn_target": 0.5, "knn_source": 0.6}},
                       features)

    for e in range(3):
        add(e, xy + 0.1 * e)
    store.update(run_id, status="running")  # the page polls as for a live run
    out = {}
    proc, url = start_server(tmp, tmp / "runs")
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = open_page(b, f"{url}/features?run={run_id}")
            page.wait_for_selector("text=Epoch 2", timeout=60_000)
            # A new snapshot's view: file written -> its title on screen.
            lags = []
            for e in range(3, 8):
                t0 = time.time()
                add(e)
                page.wait_for_selector(f"text=Epoch {e}", timeout=30_000)
                lags.append(time.time() - t0)
            out["snapshot_to_screen_s"] = {"median": round(statistics.median(lags), 2), "max": round(max(lags), 2)}
            for e in range(3, 8):
                add(e, xy + 0.1 * e)
            wait_idle(page)
            # A click while a layout process is busy (cold numba cache) vs idle.
            def click_colour(name, legend):
                t0 = time.perf_counter()
                colour_button(page, name).click()
                page.wait_for_selector(f".legend >> text={legend}", timeout=60_000)
                return time.perf_counter() - t0
            idle = [click_colour("Class", "7"), click_colour("Domain", "source")]
            add(8, None, f)
            cold = Path(tempfile.mkdtemp())
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cold), "PYTHONPATH": str(ROOT)}
            busy_proc = subprocess.Popen([sys.executable, "-m", "tlcore.embed.layout", str(folder), "--once"],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            time.sleep(2)
            busy = [click_colour("Class", "7"), click_colour("Domain", "source")]
            out["click_while_layout_busy_s"] = [round(v, 2) for v in busy]
            out["layout_still_busy_after_clicks"] = busy_proc.poll() is None
            out["click_while_idle_s"] = [round(v, 2) for v in idle]
            busy_proc.wait(timeout=300)
            shutil.rmtree(cold, ignore_errors=True)
            store.update(run_id, status="finished")
            page.reload()
            page.wait_for_selector("text=Epoch 8", timeout=60_000)
            wait_idle(page)
            # Memory of the server across 20 redraws (colour changes redraw every map).
            before = rss_mb(proc.pid)
            for k in range(20):
                click_colour("Class" if k % 2 == 0 else "Domain", "7" if k % 2 == 0 else "source")
            wait_idle(page)
            after = rss_mb(proc.pid)
            out["server_rss_mb"] = {"before": round(before), "after_20_redraws": round(after),
                                    "growth": round(after - before, 1)}
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="core,browser", help="core, browser or both (comma-separated)")
    args = parser.parse_args()
    f, probe, thumbs = probe_features()
    for part, run in (("core", core), ("browser", browser)):
        if part in args.parts.split(","):
            result = run(f, probe) if part == "core" else run(f, probe, thumbs)
            print(json.dumps({part: result}, indent=2), flush=True)


if __name__ == "__main__":
    main()
