"""The from-scratch reference of a transfer run: its config, and finding it in the store,
with real small runs (a transfer run trained in this process, its reference queued through
the run store like the Evaluate page's button does, and run by a worker)."""
import dataclasses

import pytest

from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.runs import scheduler
from tlcore.runs.reference import (scratch_config, scratch_reference, scratch_reference_pending,
                                   submit_scratch_reference)
from tlcore.runs.worker import run_recorded


def transfer(**data) -> RunConfig:
    """A few seconds on 2 cores: the pretrained lite0, last stage trained, 10 digits a class at 32 px."""
    return RunConfig(data=DataConfig(**{"target": "syndigits", "per_class": 10, "image_size": 32, **data}),
                     model=ModelConfig(backbone="efficientnet_lite0", weights="imagenet", freeze="last:1"),
                     strategy=StrategyConfig("finetune"),
                     schedule=ScheduleConfig(epochs=1), feature_map=FeatureMapConfig(every=1, layout="pca"),
                     batch_size=16, threads=1, name="lite0 digits", environment={"torch": "x"})


def test_scratch_config_changes_only_weights_freeze_name_and_map():
    config = transfer()
    scratch = scratch_config(config)
    assert scratch.model.weights == "none" and scratch.model.freeze == "none"
    assert scratch.name == "lite0 digits from scratch" and scratch.feature_map.every == 0
    assert scratch.environment == {}  # the new run records its own
    unchanged = dict(model=config.model, feature_map=config.feature_map, name=config.name,
                     environment=config.environment)
    assert scratch.replace(**unchanged) == config  # data, seed, strategy, epochs, optimiser, threads: all kept
    assert scratch.schedule.epochs == config.schedule.epochs
    assert dataclasses.replace(scratch.model, weights="imagenet", freeze="last:1") == config.model  # bn, lr decay
    assert scratch_config(config, name="run 7").name == "run 7 from scratch"


def test_the_reference_is_found_for_its_run_and_not_for_other_data(store):
    run_id = store.create_run(transfer(), "lite0 digits")
    assert run_recorded(store, run_id).status == "finished"
    run = store.get(run_id)
    assert scratch_reference(store, run) is None and scratch_reference_pending(store, run) is None

    ref_id = submit_scratch_reference(store, run)  # queued like any run; a worker trains it
    assert scratch_reference_pending(store, run).id == ref_id and scratch_reference(store, run) is None
    assert scheduler.wait(store, ref_id, timeout_s=300) == "finished", store.get(ref_id).error
    reference = scratch_reference(store, run)
    assert reference.id == ref_id and scratch_reference_pending(store, run) is None
    assert reference.name == "lite0 digits from scratch" and reference.score("target.test.accuracy") is not None
    assert reference.config == scratch_config(run.config)

    # Empty label edits are no edits: the same data.
    same = store.get(store.create_run(transfer(label_edits={"drops": [], "relabels": {}})))
    assert scratch_reference(store, same).id == ref_id
    for other in (transfer(per_class=12), transfer(image_size=40), transfer(target_labels_per_class=5),
                  transfer(label_edits={"drops": ["0/x.png"]}), transfer().replace(seed=1),
                  transfer(target="mnist")):
        assert scratch_reference(store, store.get(store.create_run(other))) is None, other.data
    other_backbone = transfer().replace(model=ModelConfig(backbone="dann_digits_cnn", weights="imagenet"))
    assert scratch_reference(store, store.get(store.create_run(other_backbone))) is None


def test_a_run_from_scratch_is_its_own_reference(store):
    run = store.get(store.create_run(scratch_config(transfer())))
    with pytest.raises(ValueError, match="already trains from scratch"):
        submit_scratch_reference(store, run)
    assert store.list_runs("queued") == [run]  # nothing was queued
