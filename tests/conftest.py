import os
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # hostile_files and helpers

# CI installs the Debian data packages and sets this, so the domain tests cannot be
# skipped there; on a developer machine without them they skip with the reason.
REQUIRE_DEBIAN_DATA = os.environ.get("TLSTUDIO_REQUIRE_DEBIAN_DATA") == "1"

# Feature maps cost a probe forward pass per epoch and a UMAP process per run: off by default
# in the configs of the many runs that test other things (RunConfig.feature_map follows the
# variable when a config is made); the feature-map tests and the live browser run turn them on.
os.environ.setdefault("TLSTUDIO_FEATURE_MAPS", "off")
# numba's compiled UMAP code: one cache per test session, so a session's timing does not
# depend on what an earlier one left in ~/.cache. The live browser test compiles it (it
# needs a cold cache) and hands it on to the tests after it.
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="tlstudio-test-numba-"))


def need_domain(name: str):
    from tlcore.data import domain_info
    missing = domain_info(name).availability()
    if missing and REQUIRE_DEBIAN_DATA:
        pytest.fail(f"CI must have the data for {name}: {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def lite0():
    """The real embedded pretrained default, with its ImageNet head."""
    from tlcore.backbones import create_backbone
    return create_backbone("efficientnet_lite0", "imagenet").eval()


@pytest.fixture(scope="session")
def recorded_runs(tmp_path_factory):
    """Two real runs recorded in a run store, in this process (no worker start-up): DANN on
    mnist -> syndigits with the pretrained default, and gradual unfreezing on syndigits.
    About 15 s on 2 cores; shared by the read, plot, predict and feature-map tests. Their
    feature maps are snapshotted (features and PCA: no UMAP process) but not laid out: the tests do that."""
    from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
    from tlcore.runs import RunStore
    from tlcore.runs.worker import run_recorded
    store = RunStore(tmp_path_factory.mktemp("recorded") / "runs")
    data = DataConfig(target="syndigits", source="mnist", per_class=20, image_size=32)
    configs = {
        "dann": RunConfig(data=data, model=ModelConfig(freeze="last:1"), strategy=StrategyConfig("dann"),
                          schedule=ScheduleConfig(epochs=2), feature_map=FeatureMapConfig(per_domain=100, layout="pca"),
                          batch_size=16),
        "gradual": RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=32),
                             model=ModelConfig(freeze="last:2"), strategy=StrategyConfig("gradual_unfreeze"),
                             schedule=ScheduleConfig(epochs=3), feature_map=FeatureMapConfig(layout="pca"),
                             batch_size=16),
    }
    ids = {}
    for key, config in configs.items():
        ids[key] = store.create_run(config, key)
        result = run_recorded(store, ids[key])
        assert result.status == "finished", result.summary.get("error")
    return store, ids
