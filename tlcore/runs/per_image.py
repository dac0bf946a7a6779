"""Target test predictions image by image: the images behind one confusion-matrix cell, and
two runs compared on the same test images (which images the second run fixed, which it broke).

Works on what ``read.target_test_predictions`` returns: lists in the order of the run's test
set (``ids``), so a position indexes ``true``, ``pred``, ``confidence`` and ``thumbs`` alike.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import RunConfig
from .read import target_test_predictions
from .store import RunStore

# The data settings that decide which images a run's test split holds (with the seed): a
# difference in one of them is the reason two runs cannot be compared image by image.
SPLIT_SETTINGS = ("target", "target_domain", "per_class", "val_fraction", "test_fraction", "label_edits",
                  "shared_classes_only")


class NotComparable(ValueError):
    """Two runs were not evaluated on the same test images; the message says why."""


def cell_images(predictions: dict, true: int, pred: int) -> list[int]:
    """Positions of the test images of class ``true`` predicted as ``pred``, most confident first."""
    found = [i for i, (t, p) in enumerate(zip(predictions["true"], predictions["pred"])) if t == true and p == pred]
    return sorted(found, key=lambda i: -predictions["confidence"][i])


def mistakes(predictions: dict) -> list[int]:
    """Positions of the misclassified test images, most confident first."""
    wrong = [i for i, (t, p) in enumerate(zip(predictions["true"], predictions["pred"])) if t != p]
    return sorted(wrong, key=lambda i: -predictions["confidence"][i])


def confusion_cells(predictions: dict) -> list[tuple[int, int, int]]:
    """The non-empty cells as (true, predicted, images): mistakes first, the most frequent
    confusion first, then the correct cells."""
    counts: dict[tuple[int, int], int] = {}
    for t, p in zip(predictions["true"], predictions["pred"]):
        counts[(t, p)] = counts.get((t, p), 0) + 1
    return sorted(((t, p, n) for (t, p), n in counts.items()), key=lambda c: (c[0] == c[1], -c[2], c[0], c[1]))


@dataclass(frozen=True)
class ImageComparison:
    """Run B against run A on the same test images. The lists are positions in A's
    predictions (so A's thumbnails and ids apply); ``b_position[i]`` is image i's in B's."""
    both_right: list[int]
    both_wrong: list[int]
    fixed: list[int]  # wrong in A, right in B; B's most confident first
    broken: list[int]  # right in A, wrong in B; B's most confident first
    b_position: list[int]

    @property
    def n(self) -> int:
        return len(self.both_right) + len(self.both_wrong) + len(self.fixed) + len(self.broken)


def compare_predictions(a: dict, b: dict) -> ImageComparison:
    """A and B image by image, matched by image id; NotComparable unless both were evaluated
    on the same set of test images with the same classes."""
    if list(a["class_names"]) != list(b["class_names"]):
        raise NotComparable("the two runs have different classes, so their predictions do not line up")
    if len(set(a["ids"])) != len(a["ids"]) or len(set(b["ids"])) != len(b["ids"]):
        raise NotComparable("a run lists the same test image twice")
    if any(len(p[k]) != len(p["ids"]) for p in (a, b) for k in ("true", "pred", "confidence")):
        raise NotComparable("a run's predictions do not match its list of test images (written by another version?)")
    where_b = {image: k for k, image in enumerate(b["ids"])}
    if set(where_b) != set(a["ids"]):
        common = len(where_b.keys() & set(a["ids"]))
        raise NotComparable(f"they were evaluated on different test images: A has {len(a['ids']):,}, "
                            f"B {len(b['ids']):,}, {common:,} in common")
    b_position = [where_b[image] for image in a["ids"]]
    groups: dict[tuple[bool, bool], list[int]] = {(x, y): [] for x in (True, False) for y in (True, False)}
    for i, k in enumerate(b_position):
        groups[(a["pred"][i] == a["true"][i], b["pred"][k] == b["true"][k])].append(i)

    def by_b_confidence(i):
        return -b["confidence"][b_position[i]]
    return ImageComparison(both_right=groups[(True, True)], both_wrong=groups[(False, False)],
                           fixed=sorted(groups[(False, True)], key=by_b_confidence),
                           broken=sorted(groups[(True, False)], key=by_b_confidence), b_position=b_position)


def compare_runs(store: RunStore, a_id: str, b_id: str) -> tuple[dict, dict, ImageComparison]:
    """The latest test predictions of runs A and B and their comparison; NotComparable says
    why not (no predictions yet, or other test images, with the settings that differ)."""
    a, b = target_test_predictions(store, a_id), target_test_predictions(store, b_id)
    for letter, run_id, predictions in (("A", a_id, a), ("B", b_id, b)):
        if predictions is None:
            raise NotComparable(f"run {letter} (`{run_id}`) has no test predictions yet: they are written "
                                "when it finishes its first epoch")
    try:
        return a, b, compare_predictions(a, b)
    except NotComparable as exc:
        differ = split_differences(store.get(a_id).config, store.get(b_id).config)
        raise NotComparable(f"{exc}" + (f" ({differ})." if differ else ".")) from None


def split_differences(a: RunConfig, b: RunConfig) -> str:
    """The data settings and seed that decide the test images and differ between two runs,
    as "seed 0 vs 1, ..."; empty: most likely the same test images (the ids say for sure)."""
    parts = [f"{name} {getattr(a.data, name)!r} vs {getattr(b.data, name)!r}" for name in SPLIT_SETTINGS
             if getattr(a.data, name) != getattr(b.data, name)]
    if a.seed != b.seed:
        parts.append(f"seed {a.seed} vs {b.seed}: the split is drawn from the seed")
    return ", ".join(parts)
