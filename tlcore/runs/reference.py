"""The from-scratch reference of a transfer run: the same backbone trained from random
weights on the same data, with the same seed and the same number of epochs.

The before-transfer figure (a linear probe on the untrained network's features) measures
the pretrained features, not what training without them would reach; the gain of transfer
is what a run scores above this reference. Any run recorded in the store that matches counts
(started from the Evaluate page, the CLI or by hand).
"""
from __future__ import annotations

import dataclasses

from ..config import RunConfig
from ..run_record import LIVE, RunRecord
from .scheduler import submit
from .store import RunStore

# The data settings a reference must share with the run (besides the seed): they decide which
# images are loaded, how they are split, which are labelled and at what size they are seen.
MATCHED_DATA = ("target", "target_domain", "per_class", "target_labels_per_class", "val_fraction",
                "test_fraction", "image_size", "label_edits")


def trains_from_scratch(config: RunConfig) -> bool:
    return config.model.weights == "none"


def scratch_config(config: RunConfig, name: str | None = None) -> RunConfig:
    """``config`` from random weights: weights "none", nothing frozen (a random layer kept
    frozen would only handicap the reference), no feature map, named "<name> from scratch".
    Everything else stays, the number of epochs included: the reference gets the same
    training budget, not the longer one a network from scratch would usually be given. The
    recorded environment is dropped (the new run records its own)."""
    base = name or config.name or config.strategy.name
    return config.replace(model=dataclasses.replace(config.model, weights="none", freeze="none"),
                          feature_map=dataclasses.replace(config.feature_map, every=0),
                          name=f"{base} from scratch", environment={})


def _normalised_edits(edits) -> dict | None:
    """No edits, however written ({} or empty lists), as None."""
    if not edits or not any(edits.values()):
        return None
    return edits


def same_data(a: RunConfig, b: RunConfig) -> bool:
    """Same images, split, labels and size, and the same seed (which draws all of them)."""
    def key(config: RunConfig) -> tuple:
        data = dataclasses.replace(config.data, label_edits=_normalised_edits(config.data.label_edits))
        return (config.seed, *(getattr(data, f) for f in MATCHED_DATA))
    return key(a) == key(b)


def scratch_candidates(store: RunStore, run: RunRecord) -> list[RunRecord]:
    """Every other run in the store, newest first, that trains ``run``'s backbone from
    scratch on the same data with the same seed, whatever its status."""
    return [r for r in reversed(store.list_runs()) if r.id != run.id and trains_from_scratch(r.config)
            and r.config.model.backbone == run.config.model.backbone and same_data(r.config, run.config)]


def scratch_reference(store: RunStore, run: RunRecord) -> RunRecord | None:
    """The newest finished from-scratch reference of ``run``, or None."""
    return next((r for r in scratch_candidates(store, run)
                 if r.status == "finished" and r.score("target.test.accuracy") is not None), None)


def scratch_reference_pending(store: RunStore, run: RunRecord) -> RunRecord | None:
    """A reference that is queued or training, so a second one is not started beside it."""
    return next((r for r in scratch_candidates(store, run) if r.status in LIVE), None)


def submit_scratch_reference(store: RunStore, run: RunRecord, owner: str = "") -> str:
    """Queue the reference of ``run`` like any run (it starts when a slot is free), as
    ``owner``'s; its id. ValueError for a run that is itself from scratch; RunLimitError when
    the disk is full."""
    if trains_from_scratch(run.config):
        raise ValueError(f"run {run.id} already trains from scratch: it is its own reference")
    return submit(store, scratch_config(run.config, name=run.name), owner=owner)
