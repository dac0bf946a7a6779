"""The live feature map: snapshot files, the loop's snapshots of a real run, UMAP layouts
that stay in one frame, and the domain-gap measures against their definitions."""
import json
import os
import subprocess
import sys

import numpy as np

from tlcore.embed import mmd2, proxy_a_distance
from tlcore.embed.layout import align, disparity, gap_numbers, process_pending, umap_layout
from tlcore.embed.snapshots import (coordinates, features_path, layout_pending, read_probe, read_snapshots, read_thumbs,
                                    signature, write_probe, write_snapshot)


def numpy_mmd2(s, t, kernels=5, multiplier=2.0):
    """The multi-kernel Gaussian MMD^2 of DAN written out in NumPy (biased estimator)."""
    x = np.concatenate([s, t]).astype(np.float64)
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    n, m = len(s), len(x)
    base = sq.sum() / (m * m - m)
    k = sum(np.exp(-sq / (base * multiplier ** (j - kernels // 2))) for j in range(kernels))
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def test_mmd_matches_the_numpy_formula():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(75, 12)), rng.normal(0.5, 1.2, size=(75, 12))  # mmd2 compares equal-size samples
    assert np.isclose(mmd2(s, t), numpy_mmd2(s, t), rtol=1e-4)
    assert np.isclose(mmd2(s, s.copy()), 0.0, atol=1e-6)


def test_a_distance_is_not_saturated_by_high_dimensional_features():
    """Fewer points than dimensions (as with 2,000 probe images of 1,280-d features): a
    classifier on raw features separates any two samples; on principal components it cannot
    tell two samples of one distribution apart."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 640)), rng.normal(size=(200, 640))
    assert proxy_a_distance(a, b) < 0.4
    assert proxy_a_distance(a, b + 1.0) > 1.9


def test_snapshot_files_round_trip(tmp_path):
    probe = {"class_names": ["a", "b"], "domain": ["target"] * 4 + ["source"] * 2, "label": [0, 1, 0, 1, 0, 1],
             "id": [f"img{i}.png" for i in range(6)], "weight": None}
    write_probe(tmp_path, probe, np.zeros((6, 32, 32, 3), np.uint8))
    features = np.arange(6 * 5, dtype=np.float32).reshape(6, 5)
    write_snapshot(tmp_path, {"epoch": 0, "pred": [0] * 6, "pca": [[float(i), 0.0] for i in range(6)],
                              "umap": None, "gap": None}, features)
    assert read_probe(tmp_path) == probe and read_thumbs(tmp_path).shape == (6, 32, 32, 3)
    assert np.array_equal(np.load(features_path(tmp_path, 0)), features.astype(np.float16))
    (snap,) = read_snapshots(tmp_path)
    assert coordinates(snap)[1] == "pca" and layout_pending(tmp_path)
    before = signature(tmp_path)
    snap["umap"] = [[1.0, 2.0]] * 6
    os.utime(tmp_path / "epoch_0000.json", ns=(1, 1))  # a different mtime, whatever the clock's resolution
    write_snapshot(tmp_path, snap)
    assert signature(tmp_path) != before and coordinates(read_snapshots(tmp_path)[0])[1] == "umap"
    (tmp_path / "epoch_0001.json").write_text("{half a fi")  # torn or foreign: skipped, not fatal
    assert [s["epoch"] for s in read_snapshots(tmp_path)] == [0]
    assert read_probe(tmp_path / "nowhere") is None


def test_align_undoes_rotation_scale_and_shift():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(100, 2)).astype(np.float32)
    turn = np.array([[0.0, -1.0], [1.0, 0.0]], np.float32)
    moved = 3 * xy @ turn + 5
    assert np.allclose(align(moved, xy), xy, atol=1e-4)
    assert disparity(moved, xy) < 1e-8


def test_a_run_snapshots_its_probe_before_training_and_every_epoch(recorded_runs):
    store, ids = recorded_runs
    folder = __import__("pathlib").Path(store.get(ids["dann"]).folder) / "snapshots"
    probe = read_probe(folder)
    domains = np.array(probe["domain"])
    # 100 a domain, the same number from every class: 10 of each class's 20 target images
    # (none labelled: DANN is unsupervised) and 10 of its 14 in mnist's train split.
    assert (domains == "target").sum() == 100 and (domains == "source").sum() == 100
    assert np.bincount(np.array(probe["label"])[domains == "source"]).tolist() == [10] * 10
    snaps = read_snapshots(folder)
    assert [s["epoch"] for s in snaps] == [0, 1, 2]
    assert all(len(s["pred"]) == len(s["pca"]) == len(domains) for s in snaps)
    assert (folder / "done").exists() and read_thumbs(folder).shape == (len(domains), 32, 32, 3)


def test_layouts_are_computed_beside_training_and_stay_in_one_frame(recorded_runs, tmp_path):
    """The layout process turns pending snapshots into UMAP maps with gap numbers; refitting
    an unchanged model's features from the previous map barely moves a point."""
    import shutil
    store, ids = recorded_runs
    folder = tmp_path / "snapshots"
    shutil.copytree(__import__("pathlib").Path(store.get(ids["dann"]).folder) / "snapshots", folder)
    pretrained = np.load(features_path(folder, 0)).astype(np.float32)  # epoch 0: the untrained backbone
    # The layout process itself, as the worker starts it (numba code from the disk cache).
    done = subprocess.run([sys.executable, "-m", "tlcore.embed.layout", str(folder), "--once"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    snaps = read_snapshots(folder)
    assert all(s["umap"] is not None and s["gap"] is not None for s in snaps), done.stdout
    assert not layout_pending(folder) and not list(folder.glob("*.features.npy"))
    assert {"a_distance", "mmd", "knn_target", "knn_source"} <= set(snaps[0]["gap"])
    assert snaps[0]["disparity"] is None and all(0 <= s["disparity"] < 1 for s in snaps[1:])

    # Continuity, seeded so the check is deterministic: an unseeded refit of 200 points
    # varies (0.04-0.11 over 8 refits here, 0.21 once in CI). Seeded, measured: disparity
    # 0.109 and median move 8% of the map's span, where an independent layout of the same
    # features lies at 0.193; on 2,000 points the benchmark finds 0.01-0.02. A layout of
    # unrelated points would be near 1.
    previous = umap_layout(pretrained, seed=0)
    again = umap_layout(pretrained, previous, seed=0)
    span = np.ptp(previous, axis=0).max()
    assert disparity(previous, again) < 0.2
    assert np.median(np.linalg.norm(again - previous, axis=1)) < 0.2 * span
    assert process_pending(folder) == 0  # nothing left to do


def test_gap_numbers_without_a_source_give_class_separation_only():
    rng = np.random.default_rng(0)
    f = np.r_[rng.normal(-3, 1, (50, 8)), rng.normal(3, 1, (50, 8))]
    gap = gap_numbers(f, np.array(["target"] * 100), np.repeat([0, 1], 50))
    assert set(gap) == {"knn_target"} and gap["knn_target"] > 0.95
    json.dumps(gap)  # NaN-free: it goes into a JSON file


def test_instance_weights_size_the_source_points_and_selections_score_per_domain():
    from tlcore.data import load_domain
    from tlcore.embed.probe import probe_record
    from tlcore.plots import feature_map_figure, selection_summary
    target, source = load_domain("syndigits", per_class=3), load_domain("mnist", per_class=3)
    t_idx, s_idx = np.arange(6), np.arange(4)
    weights = {source.ids[i]: w for i, w in zip(s_idx, (0.2, 1.0, 1.0, 3.0))}
    probe = probe_record([("target", target, t_idx, target.labels[t_idx]),
                          ("source", source, s_idx, source.labels[s_idx])], target.class_names, weights)
    assert probe["weight"][:6] == [None] * 6 and probe["weight"][6:] == [0.2, 1.0, 1.0, 3.0]
    fig = feature_map_figure(np.random.default_rng(0).normal(size=(10, 2)), probe, None, "domain")
    sizes = {t.marker.symbol: t.marker.size for t in fig.data}
    source_sizes = np.asarray(sizes["diamond"])  # the weight, drawn as the marker's size
    assert np.isscalar(sizes["circle"]) and source_sizes[0] < source_sizes[1] == source_sizes[2] < source_sizes[3]
    pred = list(probe["label"])
    pred[0] = (pred[0] + 1) % 10  # one wrong target prediction
    rows = {r["domain"]: r for r in selection_summary(probe, pred, [0, 1, 6])}
    assert rows["target"]["points"] == 2 and rows["target"]["accuracy"] == 0.5
    assert rows["source"]["accuracy"] == 1.0
