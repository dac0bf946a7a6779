"""The benchmark command's plumbing: its sections, its refusal of unknown ones, and the
report it writes. The benchmarks themselves take minutes and are not run here (they
live in benchmarks/; see BENCHMARKS.md for their commands)."""
import json
from pathlib import Path

from benchmarks.common import fmt_ms, mean_std
from benchmarks.speed import time_to
from benchmarks.suite import main, render, save_results, update_report
from tlcore.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["transfer", "recipes", "da-classic", "da-pretrained", "da-select", "da-classic-cli", "da-semi",
            "speed-trainer", "speed-cache", "speed-pipeline", "speed-real",
            "speed-precision", "speed-compile", "speed-umap"]


def test_bench_lists_every_section_and_refuses_unknown_ones(capfd):
    assert cli_main(["bench", "--list"]) == 0  # `python -m tlcore bench --list`: python -m benchmarks, a process
    assert [ln.split()[0] for ln in capfd.readouterr().out.splitlines()] == SECTIONS
    assert main(["--quick", "--only", "speed-cache,warp-drive"]) == 2
    err = capfd.readouterr().err
    assert "warp-drive" in err and "speed-umap" in err
    assert not (ROOT / "BENCHMARKS.json").exists() or "warp-drive" not in (ROOT / "BENCHMARKS.json").read_text()


def fake_result(value: str) -> dict:
    return {"section": "speed-cache", "title": "Feature cache", "mode": "quick", "date": "2026-11-27",
            "machine": {"cpu": "AMD EPYC", "cores": 2, "gpu": None, "torch": "2.14.1"},
            "command": "python -m tlcore bench --quick --only speed-cache", "wall_s": 42.0,
            "tables": [{"title": "t", "columns": ["a", "b"], "rows": [["x", value]]}], "notes": ["a note"]}


def test_the_report_gets_the_tables_between_markers_and_keeps_the_prose(tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\nProse above.\n\n<!-- bench:speed-cache:quick -->\nold\n"
                      "<!-- /bench:speed-cache:quick -->\n\nProse below.\n")
    update_report({"speed-cache:quick": fake_result("1.06x")}, report)
    text = report.read_text()
    assert "old" not in text and "| x | 1.06x |" in text and "Prose above." in text and "Prose below." in text
    assert "`python -m tlcore bench --quick --only speed-cache` — 2026-11-27, CPU AMD EPYC (2 cores), no GPU" in text
    update_report({"speed-cache:quick": fake_result("1.10x")}, report)  # a rerun replaces, never duplicates
    assert report.read_text().count("<!-- bench:speed-cache:quick -->") == 1 and "1.06x" not in report.read_text()
    update_report({"speed-umap:full": dict(fake_result("2 s"), title="UMAP", mode="full")}, report)
    assert "## UMAP (full)\n\n<!-- bench:speed-umap:full -->" in report.read_text()  # new sections are appended


def test_results_file_merges_sections(tmp_path):
    out = tmp_path / "r.json"
    save_results({"a:quick": {"x": 1}}, out)
    save_results({"b:full": {"x": 2}, "a:quick": {"x": 3}}, out)
    assert json.loads(out.read_text()) == {"a:quick": {"x": 3}, "b:full": {"x": 2}}
    assert "- a note" in render(fake_result("1"))


def test_mean_and_std_over_seeds():
    assert fmt_ms([0.70, 0.72, 0.74]) == "72.0 ± 2.0"
    assert fmt_ms([0.5]) == "50.0" and fmt_ms([]) == "-" and fmt_ms([None, float("nan")]) == "-"
    assert mean_std([1.0, 3.0])[:2] == (2.0, 2 ** 0.5)
    assert time_to([(1.0, 0.3), (2.0, 0.6), (3.0, 0.5)], 0.55) == 2.0 and time_to([(1.0, 0.3)], 0.5) is None
