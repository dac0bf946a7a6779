"""Decisions about single labels of a data set (the Feasibility page's suspect review): a
``LabelEdits`` record keyed by image id, saved with a run's config (``data.label_edits``)
and applied when the run loads its data. Image files and ImageSets are never changed."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np


@dataclass
class LabelEdits:
    """What the user decided about suspect images, by image id: dropped, or relabelled to a
    class name (names, not indices, so a record survives a change in class order)."""
    drops: list[str] = field(default_factory=list)
    relabels: dict[str, str] = field(default_factory=dict)

    def drop(self, item_id: str) -> None:
        self.relabels.pop(item_id, None)
        if item_id not in self.drops:
            self.drops.append(item_id)

    def relabel(self, item_id: str, class_name: str) -> None:
        if item_id in self.drops:
            self.drops.remove(item_id)
        self.relabels[item_id] = class_name

    def undo(self, item_id: str) -> None:
        self.relabels.pop(item_id, None)
        if item_id in self.drops:
            self.drops.remove(item_id)

    def __len__(self) -> int:
        return len(self.drops) + len(self.relabels)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, text: str) -> LabelEdits:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict) -> LabelEdits:
        if not isinstance(raw, dict):
            raise ValueError("label edits must be an object with 'drops' and 'relabels'")
        return cls(drops=[str(i) for i in raw.get("drops", [])],
                   relabels={str(k): str(v) for k, v in raw.get("relabels", {}).items()})


def apply_label_edits(image_set, edits: LabelEdits) -> tuple[np.ndarray, np.ndarray]:
    """(kept positions, labels with the relabels applied: a new array, full length) of
    ``image_set``. Ids the set does not hold are skipped (a record may be for a larger set
    than the per-class sample loaded now); an unknown class name is an error."""
    names = {name: i for i, name in enumerate(image_set.class_names)}
    unknown = sorted(set(edits.relabels.values()) - set(names))
    if unknown:
        raise ValueError(f"unknown class {unknown[0]!r}; valid: {', '.join(image_set.class_names)}")
    position = {item_id: i for i, item_id in enumerate(image_set.ids)}
    labels = np.array(image_set.labels, dtype=np.int64, copy=True)
    for item_id, name in edits.relabels.items():
        if item_id in position:
            labels[position[item_id]] = names[name]
    dropped = {position[i] for i in edits.drops if i in position}
    keep = np.array([i for i in range(len(labels)) if i not in dropped], dtype=np.int64)
    return keep, labels


def edited_image_set(image_set, edits: LabelEdits):
    """A new ImageSet with the edits applied: dropped images left out, relabelled ones under
    their new class. The pixel arrays are shared, not copied; the original set is unchanged."""
    keep, labels = apply_label_edits(image_set, edits)
    return replace(image_set.subset(keep), labels=labels[keep])
