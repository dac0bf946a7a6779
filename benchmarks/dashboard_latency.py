"""Dashboard latency, measured in headless Chromium against a real `streamlit run`:

  * start -> first point: from the click on "Start training" to the first training step
    shown on the Train page (worker start-up, data, backbone and the before-transfer
    probe included);
  * first page load: from opening the Train page on a server just started (healthy) to its
    Start button on screen;
  * live lag: for each new step the page shows, the time it appeared in the browser minus
    the time the worker recorded that step (the run store row's timestamp).

    python benchmarks/dashboard_latency.py [--epochs 6] [--per-class 100] [--image-size 64]

Prints JSON; BENCHMARKS.md quotes it. Both clocks are this machine's, so the lag needs no
clock sync.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests"))

from test_app import CHROMIUM, fill_train_form, start_server  # noqa: E402

from tlcore.runs import RunStore, stop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", default="6")
    parser.add_argument("--per-class", default="100")
    parser.add_argument("--image-size", default="64")
    parser.add_argument("--seconds", type=float, default=40, help="how long to sample the live lag")
    args = parser.parse_args()
    results = {}
    for label, standby in (("cold worker", "0"), ("spare worker ready", "1")):
        results[label] = measure(args, standby)
    print(json.dumps(results, indent=2))


def measure(args, standby: str) -> dict:
    tmp = Path(tempfile.mkdtemp())
    os.environ["TLSTUDIO_STANDBY"] = standby  # the server (and its workers) inherit it
    proc, url = start_server(tmp)
    from playwright.sync_api import sync_playwright
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            t_load = time.time()  # the first page load of a fresh server: its first script run imports the core
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/train")
            page.get_by_role("button", name="Start training").wait_for(timeout=120_000)
            first_load = time.time() - t_load
            page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
            fill_train_form(page, args.epochs, args.per_class, args.image_size)
            if standby == "1":  # wait until the spare worker has finished its imports
                log = tmp / "runs" / "standby.log"
                deadline = time.time() + 90
                while time.time() < deadline and not (log.exists() and "ready" in log.read_text()):
                    time.sleep(0.2)
            page.get_by_role("button", name="Start training").click()
            t_start = time.time()
            page.wait_for_function("() => /Shown: step [1-9]/.test(document.body.innerText)", timeout=180_000)
            t_first = time.time()
            run_id = page.url.split("run=")[1].split("&")[0]
            store = RunStore(tmp / "runs")
            seen, last = [], None
            deadline = time.time() + args.seconds
            while time.time() < deadline:
                text = page.evaluate("() => document.body.innerText")
                if "finished" in text:
                    break
                marker = text.split("Shown: step ", 1)[1].split()[0] if "Shown: step " in text else None
                if marker and marker != last:
                    seen.append((int(marker), time.time()))
                    last = marker
                page.wait_for_timeout(50)
            written = {m["step"]: m["time"] for m in store.metrics(run_id) if m["split"] == "train"
                       and m["name"] == "loss"}
            lags = [t - written[s] for s, t in seen[1:] if s in written]  # the first was caught mid-wait
            browser.close()
            stop(store, run_id, grace_s=5)  # never leave the run training behind the next measurement
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {"first_page_load_s": round(first_load, 2), "start_to_first_point_s": round(t_first - t_start, 2),
            "lag_samples": len(lags),
            "lag_median_s": round(statistics.median(lags), 2) if lags else None,
            "lag_p95_s": round(sorted(lags)[int(0.95 * (len(lags) - 1))], 2) if lags else None,
            "lag_max_s": round(max(lags), 2) if lags else None,
            "config": {"epochs": args.epochs, "per_class": args.per_class, "image_size": args.image_size}}


if __name__ == "__main__":
    main()
