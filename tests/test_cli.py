"""``python -m tlcore`` as a user runs it: exit codes and what it prints."""
import json
import os
import subprocess
import sys
from pathlib import Path

import hostile_files as h
import pytest
from conftest import need_domain

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the checkout, wherever the command runs
    return subprocess.run([sys.executable, "-m", "tlcore", *args], capture_output=True, text=True,
                          timeout=240, cwd=cwd, env=env)


@pytest.mark.parametrize("name", ["mnist", "mnist-m", "syndigits", "digits-uci", "fashion", "clipart"])
def test_inspect_each_builtin_domain(name, capsys):
    from tlcore.cli import main
    need_domain(name)
    assert main(["inspect", name, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usable"] and report["num_images"] > 500 and report["licence"]
    assert set(report["split_counts"]) == {"train", "val", "test"}


def test_inspect_text_report_of_a_folder(tmp_path):
    for rel, data in {**h.good_members(("cat", "dog"), 3), "dog/bad.jpg": b"", "cat/x.svg": b"<svg/>"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    r = run("inspect", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Images: 6" in r.stdout and "'dog/bad.jpg': empty file" in r.stdout and "SVG" in r.stdout
    assert "Usable: yes" in r.stdout


@pytest.mark.parametrize("name, make, message", [
    ("zip_slip.zip", h.zip_slip, "climbs out"),
    ("zip_bomb.zip", lambda: h.zip_bomb(256), "zip bomb"),
    ("zip_corrupt.zip", h.zip_corrupt_directory, "not a valid zip"),
    ("one_class.zip", lambda: h.zip_of(h.good_members(("cat",), 4)), "only one class"),
    ("zero_byte.jpg", lambda: b"", "neither a folder nor a zip"),
    ("header_bomb.png", h.png_header_bomb, "neither a folder nor a zip"),
])
def test_inspect_hostile_input_exits_2_with_the_reason(tmp_path, name, make, message, capsys, monkeypatch):
    from tlcore.cli import main  # in-process: the same main() as the command
    (tmp_path / name).write_bytes(make())
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", str(tmp_path / name)]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written


def test_inspect_hostile_zip_as_a_command(tmp_path):
    (tmp_path / "slip.zip").write_bytes(h.zip_slip())
    r = run("inspect", str(tmp_path / "slip.zip"), cwd=tmp_path)
    assert r.returncode == 2 and "climbs out" in r.stderr and "Traceback" not in r.stderr


def test_inspect_folder_of_hostile_files_reports_each(tmp_path):
    corpus = tmp_path / "corpus"
    for i, (name, make) in enumerate(h.SINGLE_FILES.items()):
        (corpus / ("a" if i % 2 else "b")).mkdir(parents=True, exist_ok=True)
        (corpus / ("a" if i % 2 else "b") / name).write_bytes(make())
    r = run("inspect", str(corpus), "--json")
    report = json.loads(r.stdout)
    reasons = {s["path"].split("/")[-1]: s["reason"] for s in report["skipped"]}
    assert {"zero_byte.jpg", "text_as_image.png", "truncated.jpg", "truncated.png", "header_bomb_20000.png",
            "drawing.svg", "photo.heic"} <= set(reasons)
    # loaded: gif, 16-bit, CMYK, palette, EXIF
    assert report["num_images"] == 5 and r.returncode == 0


def test_backbones_lists_the_default_as_pretrained(capsys):
    r = run("backbones", "--json")
    assert r.returncode == 0, r.stderr
    rows = {b["name"]: b for b in json.loads(r.stdout)}
    assert rows["efficientnet_lite0"]["default"] and rows["efficientnet_lite0"]["imagenet_available"]
    assert rows["dann_digits_cnn"]["weight_sources"] == ["file", "none"]
    from tlcore.cli import main  # the table view in-process: one subprocess start-up is enough
    assert main(["backbones"]) == 0
    text = capsys.readouterr().out
    assert "efficientnet_lite0 (default)" in text and "available" in text


def test_domains_lists_licences():
    r = run("domains", "--json")
    names = {d["name"]: d for d in json.loads(r.stdout)}
    assert {"mnist", "mnist-m", "syndigits", "digits-uci", "fashion", "clipart"} <= set(names)
    assert all(d["licence"] for d in names.values())


def test_unknown_command_exits_2():
    assert run("frobnicate").returncode == 2


def test_strategies_lists_every_method_and_the_recommended_one(capsys):
    from tlcore.cli import main
    from tlcore.strategies import list_strategies
    from tlcore.strategies.recommend import recommended_adaptation
    assert main(["strategies", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_strategies()
    rec = recommended_adaptation().strategy
    assert [r["name"] for r in rows if r["recommended_for"]] == [rec]
    assert main(["strategies"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"Recommended for a labelled source set and no target labels: {rec} (")
