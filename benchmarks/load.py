"""Faults under load: N browser sessions use the dashboard while runs train, and the
Streamlit server is killed (-9) and started again mid-run.

    python -m benchmarks.load --sessions 10 --seconds 60 --out /tmp/load.json

Everything is on 127.0.0.1 (a free port). One real Streamlit server, headless Debian
Chromium (/usr/bin/chromium, or $TLSTUDIO_CHROMIUM) through Playwright, N browser contexts
(each its own cookies and websocket session) opening the pages by URL and reloading them
for --seconds. The first run is started from the Train page in a browser (so the server is
its worker's parent), the others through tlcore.runs.scheduler.submit; all are tiny (the demo
pair mnist -> syndigits, 32 px, a few images a class, --epochs epochs), TLSTUDIO_MAX_JOBS=2.

Halfway through, the server is killed with SIGKILL while the first run trains, and a new
one is started on the same port and runs folder: the run must still be running (or have
finished) and be shown by the new server. At the end, every run must have finished and
every metric row it wrote to its own metrics.jsonl must be in the store (rows lost: 0).

What is checked on every page load: the shared sidebar rendered ("Device:" in it), and no
st.exception block nor "Traceback" text in the page. Figures: sessions, page loads (ok /
failed), load times, runs finished, metric rows expected / found / lost, the server's
resident memory (peak, sampled each second). Exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TLSTUDIO_CHROMIUM", "/usr/bin/chromium")
PAGES = ["", "data", "model", "train", "features", "evaluate", "predict"]
RUN_PAGES = {"train", "evaluate", "features"}  # opened with ?run=ID once runs exist
SIDEBAR = "[data-testid=stSidebar]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    """One `streamlit run app.py` on 127.0.0.1:port, its log appended to log_path."""

    def __init__(self, port: int, runs_dir: Path, log_path: Path):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        env = dict(os.environ, TLSTUDIO_RUNS_DIR=str(runs_dir), TLSTUDIO_MAX_JOBS="2", TLSTUDIO_STANDBY="0",
                   TLSTUDIO_FEATURE_MAPS=os.environ.get("TLSTUDIO_FEATURE_MAPS", "off"))
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.peak_rss = 0.0

    def wait_healthy(self, timeout: float = 90) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read() == b"ok":
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not answer on {self.url} within {timeout} s")

    def sample(self) -> None:
        value = rss_mb(self.proc.pid)
        if value:
            self.peak_rss = max(self.peak_rss, value)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()


def tiny_config(epochs: int, per_class: int, image_size: int):
    from tlcore.config import DataConfig, RunConfig, ScheduleConfig
    return RunConfig(data=DataConfig(target="syndigits", source="mnist", per_class=per_class, image_size=image_size),
                     schedule=ScheduleConfig(epochs=epochs), batch_size=16)


def check_rows(store, run_id: str) -> dict:
    """Every row the run wrote to its own metrics.jsonl (written by another listener, in the
    worker) must be in the store, and every step and epoch of the schedule must be there."""
    run = store.get(run_id)
    rows = store.metrics(run_id)
    found = {(m["split"], m["step"], m["name"]) for m in rows if m["split"] == "train"}
    found_epochs = {m["epoch"] for m in rows if m["split"] == "epoch" and m["name"] == "seconds"}
    expected = set()
    expected_epochs = set()
    jsonl = run.files.metrics_file
    for line in (jsonl.read_text().splitlines() if jsonl.exists() else []):
        row = json.loads(line)
        if row["kind"] == "step":
            expected |= {("train", row["step"], k) for k in row if k not in ("kind", "epoch", "step")}
        elif row["kind"] == "epoch":
            expected_epochs.add(row["epoch"])
    plan = {m["name"]: m["value"] for m in rows if m["split"] == "run"}
    steps = int(plan.get("steps_per_epoch", 0) * plan.get("epochs", 0))
    lost = len(expected - found) + len(expected_epochs - found_epochs)
    complete = ({s for _, s, _ in found} == set(range(1, steps + 1)) and steps > 0
                and found_epochs == set(range(1, int(plan.get("epochs", 0)) + 1)))
    return {"run": run_id, "status": run.status, "error": run.error, "epochs": sorted(found_epochs),
            "steps_planned": steps, "rows_expected": len(expected) + len(expected_epochs),
            "rows_found": len(expected & found) + len(expected_epochs & found_epochs), "rows_lost": lost,
            "complete": complete}


class Load:
    """N sessions, each a browser context, each opening pages and reloading them."""

    def __init__(self, browser, n: int):
        self.browser, self.n = browser, n
        self.url = ""
        self.run_ids: list[str] = []
        self.go = asyncio.Event()
        self.go.set()
        self.in_flight = 0
        self.loads: list[dict] = []
        self.failures: list[dict] = []
        self.sessions_ok = [True] * n
        self.interrupted: list[dict] = []
        self.killed_at = self.up_at = float("inf")
        self.restarts = 0  # server restarts so far

    async def page_load(self, page, i: int, path: str, reload: bool) -> None:
        self.in_flight += 1
        t0 = time.monotonic()
        try:
            if reload:
                await page.reload(wait_until="commit", timeout=90_000)
            else:
                query = f"?run={self.run_ids[i % len(self.run_ids)]}" if path in RUN_PAGES and self.run_ids else ""
                await page.goto(f"{self.url}/{path}{query}", wait_until="commit", timeout=90_000)
            await page.wait_for_selector(f"{SIDEBAR} >> text=Device:", timeout=120_000)
            await page.wait_for_selector("[data-testid=stMain] h1", timeout=120_000)
            await page.wait_for_timeout(1000)  # let the page's script finish what it draws
            exceptions = await page.locator("[data-testid=stException]").count()
            traceback = "Traceback" in await page.locator("body").inner_text()
            ok = not exceptions and not traceback
            problem = None if ok else f"{exceptions} st.exception block(s), Traceback in text: {traceback}"
        except Exception as exc:  # noqa: BLE001 - a timeout or a dropped page is a failed load
            ok, problem = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        finally:
            self.in_flight -= 1
        if not ok and t0 < self.up_at and time.monotonic() > self.killed_at:
            # In flight when the server was killed: the restart's doing, counted apart; the
            # session goes on with its next load on the new server.
            self.interrupted.append({"session": i, "page": path or "home", "problem": problem})
            return
        self.loads.append({"session": i, "page": path or "home", "reload": reload, "ok": ok,
                           "seconds": time.monotonic() - t0})
        if not ok:
            self.sessions_ok[i] = False
            self.failures.append({"session": i, "page": path or "home", "problem": problem})

    async def session(self, i: int, until: float) -> None:
        context = await self.browser.new_context(viewport={"width": 1280, "height": 900})
        tab = [await context.new_page(), 0]  # the page, and the server restarts it has seen
        k = i
        try:
            while time.monotonic() < until:
                path = PAGES[k % len(PAGES)]
                await self.page_load(await self._tab(context, tab), i, path, reload=False)
                if time.monotonic() < until:
                    page = await self._tab(context, tab)
                    # A fresh tab (after a restart) holds nothing to reload yet: it opens the page.
                    await self.page_load(page, i, path, reload=page.url != "about:blank")
                k += 1
        finally:
            await context.close()

    async def _tab(self, context, tab: list):
        """The session's page, once the server is up. A tab that was open on the killed server
        reloads itself when the new one answers (Streamlit reconnecting), which would race
        the session's next navigation: after a restart the session goes on in a fresh tab of
        the same browser context, as a user would after that reload."""
        await self.go.wait()
        if tab[1] != self.restarts:
            await tab[0].close()
            tab[:] = [await context.new_page(), self.restarts]
        return tab[0]


async def start_run_from_browser(browser, url: str, epochs: int, per_class: int, image_size: int) -> str:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)  # Playwright's 30 s is too short with 2 loaded cores
    page = await context.new_page()
    await page.goto(f"{url}/train")
    await page.wait_for_selector(SIDEBAR, timeout=120_000)
    await page.wait_for_selector("text=Data and run settings", timeout=120_000)
    await page.get_by_text("Data and run settings").click()
    for label, value in (("Epochs", epochs), ("Images per class (0: all)", per_class),
                         ("Image size (px)", image_size)):
        field = page.get_by_role("spinbutton", name=label, exact=True)
        await field.fill(str(value))
        await field.press("Enter")
        await page.wait_for_timeout(800)
        await page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
    await page.get_by_role("button", name="Start training").click()
    await page.wait_for_function("() => location.search.includes('run=')", timeout=120_000)
    run_id = page.url.split("run=", 1)[1].split("&", 1)[0]
    await context.close()
    return run_id


async def shown_by_server(browser, url: str, run_id: str) -> str:
    """The run as the (new) server's Train page shows it: its status badge text."""
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{url}/train?run={run_id}")
        await page.wait_for_selector(f"{SIDEBAR} >> text=Device:", timeout=120_000)
        await page.wait_for_function(
            "() => /Shown: step|finished/.test(document.querySelector('[data-testid=stMain]').innerText)",
            timeout=120_000)
        text = await page.locator("[data-testid=stMain]").inner_text()
        return next((s for s in ("running", "finished", "failed", "queued") if s in text), "not shown")
    finally:
        await context.close()


async def _main(args, work: Path) -> dict:
    from playwright.async_api import async_playwright

    from tlcore.jobs import pid_alive
    from tlcore.runs import RunStore, scheduler
    os.environ["TLSTUDIO_MAX_JOBS"] = "2"  # for the runs this process submits
    os.environ["TLSTUDIO_STANDBY"] = "0"
    runs_dir = work / "runs"
    store = RunStore(runs_dir)
    port = free_port()
    log = work / "streamlit.log"
    t_start = time.monotonic()
    servers = [Server(port, runs_dir, log)]
    result: dict = {"sessions": args.sessions, "seconds": args.seconds, "runs": args.runs, "epochs": args.epochs,
                    "per_class": args.per_class, "image_size": args.image_size, "port": port}
    result["server_start_s"] = [round(servers[0].wait_healthy(), 1)]
    stop_sampling = False

    async def sampler():
        while not stop_sampling:
            servers[-1].sample()
            await asyncio.sleep(1)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        sampling = asyncio.create_task(sampler())
        load = Load(browser, args.sessions)
        load.url = servers[0].url
        try:
            run_ids = [await start_run_from_browser(browser, load.url, args.epochs, args.per_class, args.image_size)]
            for _ in range(args.runs - 1):
                run_ids.append(scheduler.submit(store, tiny_config(args.epochs, args.per_class, args.image_size)))
            load.run_ids = run_ids
            t_load = time.monotonic()
            until = t_load + args.seconds
            tasks = [asyncio.create_task(load.session(i, until)) for i in range(args.sessions)]

            # The restart: as soon as the browser-started run has recorded a training step.
            restart: dict = {}
            if args.restart:
                while (time.monotonic() < t_load + 90  # the worker's imports and data: 10-30 s here
                       and not store.metrics(run_ids[0], split="train")):
                    await asyncio.sleep(0.5)
                load.go.clear()  # no new loads until the new server is up; those in flight are cut off
                load.killed_at = time.monotonic()
                before = store.get(run_ids[0])
                restart["run_status_before"] = before.status
                restart["train_rows_before"] = len(store.metrics(run_ids[0], split="train"))
                servers[-1].sample()
                servers[-1].kill9()
                t_kill = time.monotonic()
                restart["worker_alive_after_kill"] = pid_alive(before.pid)
                servers.append(Server(port, runs_dir, log))
                result["server_start_s"].append(round(servers[-1].wait_healthy(), 1))
                restart["down_s"] = round(time.monotonic() - t_kill, 1)
                load.url = servers[-1].url
                load.up_at = time.monotonic()
                load.restarts += 1
                load.go.set()
                restart["status_in_store_after"] = store.get(run_ids[0]).status
                restart["shown_by_new_server"] = await shown_by_server(browser, load.url, run_ids[0])
                restart["train_rows_after"] = len(store.metrics(run_ids[0], split="train"))
                # Killed mid-training (a step recorded, not yet finished), and training went on.
                restart["ok"] = (before.status == "running" and restart["train_rows_before"] > 0
                                 and restart["worker_alive_after_kill"]
                                 and restart["status_in_store_after"] in ("running", "finished")
                                 and restart["shown_by_new_server"] in ("running", "finished")
                                 and (restart["train_rows_after"] > restart["train_rows_before"]
                                      or restart["status_in_store_after"] == "finished"))
            await asyncio.gather(*tasks)
            result["load_s"] = round(time.monotonic() - t_load, 1)
            # Let the runs end (bounded), with the server still up.
            deadline = time.monotonic() + args.run_timeout
            while time.monotonic() < deadline and any(store.get(r).status in ("queued", "running", "stopping")
                                                      for r in run_ids):
                scheduler.reconcile(store)
                await asyncio.sleep(1)
            if args.restart:
                restart["shown_at_end"] = await shown_by_server(browser, load.url, run_ids[0])
            result["restart"] = restart if args.restart else None
        finally:
            stop_sampling = True
            await sampling
            await browser.close()
            for s in servers:
                s.stop()
            for run in store.list_runs():  # never leave a worker behind
                if run.active and run.pid and pid_alive(run.pid):
                    os.killpg(run.pid, signal.SIGKILL)

    times = sorted(x["seconds"] for x in load.loads)
    result["page_loads"] = len(load.loads)
    result["page_loads_ok"] = sum(x["ok"] for x in load.loads)
    result["page_load_p50_s"] = round(statistics.median(times), 2) if times else None
    result["page_load_p95_s"] = round(times[int(0.95 * (len(times) - 1))], 2) if times else None
    result["page_loads_cut_by_restart"] = len(load.interrupted)
    result["sessions_held"] = sum(load.sessions_ok)
    result["failures"] = load.failures[:20]
    result["runs_detail"] = [check_rows(store, r) for r in run_ids]
    result["runs_finished"] = sum(r["status"] == "finished" for r in result["runs_detail"])
    result["rows_expected"] = sum(r["rows_expected"] for r in result["runs_detail"])
    result["rows_found"] = sum(r["rows_found"] for r in result["runs_detail"])
    result["rows_lost"] = sum(r["rows_lost"] for r in result["runs_detail"])
    result["store_integrity_ok"] = store.integrity_ok()
    result["server_peak_rss_mb"] = [round(s.peak_rss) for s in servers]
    result["wall_s"] = round(time.monotonic() - t_start, 1)
    result["ok"] = (result["sessions_held"] == args.sessions and result["page_loads_ok"] == result["page_loads"] > 0
                    and result["runs_finished"] == args.runs and result["rows_lost"] == 0
                    and all(r["complete"] for r in result["runs_detail"]) and result["store_integrity_ok"]
                    and (not args.restart or result["restart"]["ok"]))
    return result


def run(sessions=10, seconds=60.0, runs=2, epochs=3, per_class=30, image_size=32, restart=True,
        run_timeout=300.0, work_dir: str | Path | None = None) -> dict:
    """The benchmark as a function (the e2e test calls it with a light setting)."""
    args = argparse.Namespace(sessions=sessions, seconds=seconds, runs=runs, epochs=epochs, per_class=per_class,
                              image_size=image_size, restart=restart, run_timeout=run_timeout)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="tlstudio-load-"))
    work.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_main(args, work))
    result["work_dir"] = str(work)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    return result


def table(r: dict) -> str:
    rs = r.get("restart") or {}
    lines = [
        ("sessions held", f"{r['sessions_held']} / {r['sessions']}"),
        ("page loads ok", f"{r['page_loads_ok']} / {r['page_loads']} (p50 {r['page_load_p50_s']} s, "
                          f"p95 {r['page_load_p95_s']} s; {r['page_loads_cut_by_restart']} cut off by the kill)"),
        ("runs finished", f"{r['runs_finished']} / {r['runs']}"),
        ("metric rows expected / found / lost", f"{r['rows_expected']} / {r['rows_found']} / {r['rows_lost']}"),
        ("store integrity", "ok" if r["store_integrity_ok"] else "BROKEN"),
        ("server peak RSS (MB, per server)", " / ".join(map(str, r["server_peak_rss_mb"]))),
        ("server start (s, per server)", " / ".join(map(str, r["server_start_s"]))),
    ]
    if rs:
        lines += [("restart: worker alive after kill -9", str(rs.get("worker_alive_after_kill"))),
                  ("restart: server down (s)", str(rs.get("down_s"))),
                  ("restart: run in store / shown by new server",
                   f"{rs.get('status_in_store_after')} / {rs.get('shown_by_new_server')} "
                   f"(at end: {rs.get('shown_at_end')})"),
                  ("restart: train rows before / after",
                   f"{rs.get('train_rows_before')} / {rs.get('train_rows_after')}")]
    lines += [("load phase / wall (s)", f"{r['load_s']} / {r['wall_s']}"), ("verdict", "PASS" if r["ok"] else "FAIL")]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60, help="how long the sessions load pages")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--no-restart", dest="restart", action="store_false")
    parser.add_argument("--run-timeout", type=float, default=300, help="how long to wait for the runs after the load")
    parser.add_argument("--work-dir")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TLSTUDIO_CHROMIUM)", file=sys.stderr)
        return 2
    result = run(args.sessions, args.seconds, args.runs, args.epochs, args.per_class, args.image_size,
                 args.restart, args.run_timeout, args.work_dir)
    print(table(result))
    for failure in result["failures"][:5]:
        print("  failure:", failure)
    for detail in result["runs_detail"]:
        if detail["error"] or not detail["complete"]:
            print("  run:", detail)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
