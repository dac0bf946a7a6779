"""Image sets captured from the browser's camera, class by class.

A capture set lives on disk, not in a browser session, so a refresh (or a second tab) finds
it again by its id: ROOT/captures/<id>/ holds manifest.json (the classes, in the order they
were added, and each one's image names) and images/<sha256>.<ext> (the shots as the browser
sent them, content-addressed). Every shot is checked when it is added, with the same
decoder and limits as an upload; the finished set becomes a zip of class folders that goes
through ``keep_upload``, so training, evaluation and export see an ordinary kept upload.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import re
import secrets
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from ..atomic import write_bytes, write_json
from .archive import ArchiveLimits, MiB
from .errors import IngestError
from .images import ImageRejected, decode_image
from .imageset import ImageSet
from .limits import IMAGES_ENV, UPLOAD_ENV, max_images, max_pixels, max_upload_mb
from .split import stratified_split
from .uploads import keep_upload, zip_classes

CAPTURE_ID_FORMAT = "16 hex digits"
_CAPTURE_ID = re.compile(r"[0-9a-f]{16}")
_IMAGE_NAME = re.compile(r"[0-9a-f]{20}\.(jpg|png|webp)")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}  # what browsers' canvases encode
MAX_CLASS_NAME = 60


class CaptureError(IngestError):
    """A capture-set action that cannot be done; the message is for the user."""


def is_capture_id(text: str | None) -> bool:
    return bool(text) and _CAPTURE_ID.fullmatch(text) is not None


def min_per_class(val_fraction: float = 0.15, test_fraction: float = 0.15) -> int:
    """The fewest images a class needs so the default split gives it at least one training,
    one validation and one test image (read off the splitter itself, so it follows it)."""
    for n in range(2, 100):
        if set(stratified_split([0] * n, val_fraction, test_fraction).tolist()) == {"train", "val", "test"}:
            return n
    raise ValueError("no class size gives every split an image")


def clean_class_name(raw: str) -> str:
    """A class name typed by the user, as it will name the class folder; CaptureError if unusable."""
    name = re.sub(r"[/\\]+", "_", raw).strip()
    if not name:
        raise CaptureError("type a name for the class first")
    if len(name) > MAX_CLASS_NAME or any(not ch.isprintable() for ch in name):
        raise CaptureError(f"a class name must be printable and at most {MAX_CLASS_NAME} characters long")
    return name


class CaptureSet:
    """One capture set's folder. Each change reads the manifest, changes it and writes it back
    under a lock, so two tabs on the same set do not lose each other's shots."""

    def __init__(self, root: str | Path, set_id: str):
        if not is_capture_id(set_id):
            raise CaptureError(f"not a capture-set id (they are {CAPTURE_ID_FORMAT})")
        self.id = set_id
        self.folder = Path(root) / "captures" / set_id
        self._manifest = self.folder / "manifest.json"

    @classmethod
    def create(cls, root: str | Path) -> CaptureSet:
        capture = cls(root, secrets.token_hex(8))
        try:
            write_json(capture._manifest, {"classes": {}})
        except OSError as exc:
            raise CaptureError(f"the capture set cannot be kept in the runs folder: {exc.strerror or exc}") from None
        return capture

    @classmethod
    def open(cls, root: str | Path, set_id: str) -> CaptureSet:
        capture = cls(root, set_id)
        if not capture._manifest.is_file():
            raise CaptureError(f"no capture set {set_id} in this runs folder")
        capture.classes()  # a damaged manifest fails here, not later
        return capture

    # ------------------------------------------------------------------ reading

    def classes(self) -> dict[str, list[str]]:
        """Class name -> its image names, in the order added. Names that are not of the store's
        own form are dropped: the manifest is a file on disk, not a path to trust."""
        try:
            raw = json.loads(self._manifest.read_text())["classes"]
            return {str(c): [n for n in names if isinstance(n, str) and _IMAGE_NAME.fullmatch(n)]
                    for c, names in raw.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CaptureError(f"the capture set {self.id} cannot be read: {exc}") from None

    def image_bytes(self, name: str) -> bytes:
        if not _IMAGE_NAME.fullmatch(name):
            raise CaptureError(f"not a captured image: {name!r}")
        return (self.folder / "images" / name).read_bytes()

    def thumbnail(self, name: str, size: int = 96):
        """The decoded pixels of a shot, at most ``size`` px a side (what a page shows: never the raw bytes)."""
        return decode_image(self.image_bytes(name), name, max_pixels=max_pixels(), max_side=size).pixels

    def counts(self) -> dict[str, int]:
        return {c: len(names) for c, names in self.classes().items()}

    def still_needed(self) -> dict[str, int]:
        """How many more shots each class needs before the set can be trained on."""
        least = min_per_class()
        return {c: max(0, least - n) for c, n in self.counts().items()}

    def problem(self) -> str | None:
        """Why the set cannot be used yet (None when it can)."""
        counts = self.counts()
        if len(counts) < 2:
            return f"add at least 2 classes ({len(counts)} so far)"
        short = {c: n for c, n in self.still_needed().items() if n}
        if short:
            return "more shots needed: " + ", ".join(f"{c!r} {n} more" for c, n in short.items())
        return None

    # ------------------------------------------------------------------ changing

    def add_class(self, raw_name: str) -> str:
        name = clean_class_name(raw_name)
        with self._editing() as classes:
            if any(c.casefold() == name.casefold() for c in classes):
                raise CaptureError(f"there is already a class {name!r}")
            classes[name] = []
        return name

    def add_image(self, class_name: str, data: bytes) -> str:
        """Check one shot like an uploaded image, keep it, and return its name."""
        limits = ArchiveLimits()
        if len(data) > limits.max_member_bytes:
            raise CaptureError(f"the picture is {len(data) / MiB:,.0f} MiB, more than the limit of "
                               f"{limits.max_member_bytes / MiB:,.0f} MiB for one image")
        try:
            decode_image(data, "camera shot", max_pixels=max_pixels())
            kind = Image.open(io.BytesIO(data)).format
        except (ImageRejected, OSError) as exc:
            raise CaptureError(f"the picture cannot be used: {exc}") from None
        if kind not in _EXTENSIONS:
            raise CaptureError(f"the camera sent a {kind} image; JPEG, PNG or WebP expected")
        name = f"{hashlib.sha256(data).hexdigest()[:20]}.{_EXTENSIONS[kind]}"
        with self._editing() as classes:
            if class_name not in classes:
                raise CaptureError(f"no class {class_name!r} in this capture set")
            self._check_room(classes, len(data))
            for other, names in classes.items():
                if name in names:  # a real camera never sends the same bytes twice: a frozen picture
                    raise CaptureError(f"this picture is identical to one already in {other!r}; it was not added")
            write_bytes(self.folder / "images" / name, data)
            classes[class_name].append(name)
        return name

    def delete_image(self, class_name: str, name: str) -> None:
        with self._editing() as classes:
            if name in classes.get(class_name, []):
                classes[class_name].remove(name)
        self._drop_unused(name)

    def delete_class(self, class_name: str) -> None:
        with self._editing() as classes:
            names = classes.pop(class_name, [])
        for name in names:
            self._drop_unused(name)

    # ------------------------------------------------------------------ using

    def to_zip(self) -> bytes:
        """The set as a zip of class folders (what a user downloads, and what training reads)."""
        return zip_classes({c: [(n, self.image_bytes(n)) for n in names] for c, names in self.classes().items()})

    def keep(self, root: str | Path) -> tuple[Path, ImageSet]:
        """Ingest the set like an uploaded zip and keep it under ROOT/uploads; the returned path is
        what RunConfig.data.target takes. CaptureError with the reason while it is not usable yet."""
        problem = self.problem()
        if problem:
            raise CaptureError(f"the capture set cannot be trained on yet: {problem}")
        return keep_upload(self.to_zip(), f"camera-{self.id}.zip", root)

    # ------------------------------------------------------------------ inside

    def _check_room(self, classes: dict[str, list[str]], new_bytes: int) -> None:
        total = sum(len(names) for names in classes.values())
        if total + 1 > max_images():
            raise CaptureError(f"the set already has {total:,} images, the limit per set ({IMAGES_ENV} changes it)")
        used = sum((self.folder / "images" / n).stat().st_size for names in classes.values() for n in names)
        if used + new_bytes > max_upload_mb() * MiB:
            raise CaptureError(f"the set would be over the upload limit of {max_upload_mb():,} MB "
                               f"({UPLOAD_ENV} changes it)")

    def _drop_unused(self, name: str) -> None:
        if not any(name in names for names in self.classes().values()):
            (self.folder / "images" / name).unlink(missing_ok=True)

    @contextmanager
    def _editing(self):
        try:
            with open(self.folder / ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                classes = self.classes()
                yield classes
                write_json(self._manifest, {"classes": classes})
        except OSError as exc:
            raise CaptureError(f"the capture set cannot be changed: {exc.strerror or exc}") from None
