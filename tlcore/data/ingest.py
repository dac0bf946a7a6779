"""Turn user data (a folder, a zip, in-memory uploads) into a validated ImageSet + report.

Layouts understood, after stripping one enclosing top folder:
  class/img.jpg                       ImageFolder (images may sit deeper inside a class)
  train|val|test/class/img.jpg        ImageFolder with the user's own split
  domain/class/img.jpg                several domains in one root (DomainBed style)
Nothing from the upload is executed, unpickled or written anywhere.
"""
from __future__ import annotations

import lzma
import os
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .archive import ArchiveLimits, ArchiveMember, MiB, open_zip
from .errors import IngestError
from .images import DEFAULT_MAX_SIDE, ImageRejected, decode_image, extension_problem
from .imageset import ImageSet
from .limits import IMAGES_ENV, STREAMLIT_UPLOAD_ENV, UPLOAD_ENV, max_images, max_pixels, max_upload_mb
from .report import IngestReport, summarise
from .split import stratified_split

SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
JUNK_NAMES = {"thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class IngestOptions:
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # None: the limit from tlcore.data.limits (its environment variable, else its default),
    # read at ingest time.
    max_pixels: int | None = None
    max_side: int | None = DEFAULT_MAX_SIDE
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    max_images: int | None = None  # images per set
    max_upload_mb: int | None = None  # bytes handed in (ingest_zip_bytes, ingest_uploads)


# ---------------------------------------------------------------------------- sources

def ingest_path(path: str | Path, domain: str | None = None, options: IngestOptions = IngestOptions()) -> ImageSet:
    """A folder or a .zip file on disk."""
    path = Path(path)
    if path.is_dir():
        files, skipped = _walk_folder(path, options.archive.max_member_bytes)
    elif path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        files, skipped = open_zip(path, options.archive)
    elif path.is_file():
        raise IngestError(f"{path.name!r} is neither a folder nor a zip archive of class folders")
    else:
        raise IngestError(f"no such file or folder: {str(path)!r}")
    return _build_one(files, skipped, str(path), domain, options)


def ingest_zip_bytes(data: bytes, name: str = "upload.zip", domain: str | None = None,
                     options: IngestOptions = IngestOptions()) -> ImageSet:
    """A zip archive uploaded through the browser."""
    _check_upload_size(len(data), name, options)
    files, skipped = open_zip(data, options.archive)
    return _build_one(files, skipped, name, domain, options)


def ingest_uploads(items: Iterable[tuple[str, bytes, str]], name: str = "uploads",
                   options: IngestOptions = IngestOptions()) -> ImageSet:
    """Individual files as the UI sends them: (file name, bytes, class name typed by the user)."""
    files, total = [], 0
    for i, (file_name, data, class_name) in enumerate(items):
        total += len(data)
        _check_upload_size(total, name, options)
        # Only the base name is kept: a browser-supplied name is not a path to trust.
        base = file_name.replace("\\", "/").rsplit("/", 1)[-1] or f"file{i}"
        cls = class_name.replace("/", "_").strip()
        files.append(ArchiveMember(f"{cls}/{i:05d}_{base}", (lambda d=data: d)))
    return _build_one(files, [], name, None, options)


def ingest_domains(path: str | Path, options: IngestOptions = IngestOptions()) -> dict[str, ImageSet]:
    """Every domain of a multi-domain root (domain/class/images), by domain name."""
    path = Path(path)
    found = _walk_folder(path, options.archive.max_member_bytes) if path.is_dir() else open_zip(path, options.archive)
    files, skipped = _drop_junk(*found)
    layout, groups = _layout(files)
    if layout != "domains":
        raise IngestError(f"{str(path)!r} is not a multi-domain folder (domain/class/image)")
    return {d: _build(group, skipped, f"{path}#{d}", "domain/class folders", options) for d, group in groups.items()}


def _check_upload_size(size: int, name: str, options: IngestOptions) -> None:
    """Uploaded bytes over the bound are refused before anything is parsed."""
    limit_mb = options.max_upload_mb or max_upload_mb()
    if size > limit_mb * MiB:
        raise IngestError(f"refused: the upload {name!r} is {size / MiB:,.1f} MB, more than the limit of "
                          f"{limit_mb:,} MB (set {UPLOAD_ENV}, or {STREAMLIT_UPLOAD_ENV} which also "
                          "raises the dashboard's server.maxUploadSize)")


def _walk_folder(root: Path, max_bytes: int):
    files, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for fn in sorted(filenames):
            full = Path(dirpath) / fn
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                skipped.append((rel, "symbolic link (not followed)"))
            else:
                files.append(ArchiveMember(rel, _file_reader(full, max_bytes)))
    return files, skipped


def _file_reader(path: Path, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        # Checked before opening: opening a named pipe blocks until something writes to it,
        # and a multi-GB file named .jpg would be read whole. Same size limit as a zip member.
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file (a pipe, socket or device)")
        if info.st_size > max_bytes:
            raise OSError(f"file too large ({info.st_size / MiB:,.0f} MiB, limit {max_bytes / MiB:,.0f} MiB)")
        with path.open("rb") as fh:
            return fh.read(max_bytes)  # a file that grew since is cut (and then fails to decode)
    return read


# ---------------------------------------------------------------------------- layout

def _layout(files: list[ArchiveMember]):
    """Classify the tree and group its files: ('classes'|'splits'|'domains', groups)."""
    parts = [f.path.split("/") for f in files]
    # Strip one enclosing folder (a zip of "mydata/" holding the class folders).
    while parts and len({p[0] for p in parts}) == 1 and min(len(p) for p in parts) >= 3:
        parts = [p[1:] for p in parts]
    entries = [(p, f) for p, f in zip(parts, files)]
    tops = {p[0].strip().casefold() for p, _ in entries if len(p) >= 2}
    if tops and tops <= set(SPLIT_ALIASES) and all(len(p) >= 3 for p, _ in entries):
        return "splits", [(SPLIT_ALIASES[p[0].strip().casefold()], p[1], "/".join(p), f) for p, f in entries]
    if entries and len(tops) >= 2 and all(len(p) == 3 for p, _ in entries) and \
            all(len({p[1] for p, _ in entries if p[0] == t}) >= 2 for t in {p[0] for p, _ in entries}):
        groups: dict[str, list] = {}
        for p, f in entries:
            groups.setdefault(p[0], []).append((None, p[1], "/".join(p), f))
        return "domains", groups
    return "classes", [(None, p[0] if len(p) >= 2 else None, "/".join(p), f) for p, f in entries]


def _build_one(files, skipped, source: str, domain: str | None, options: IngestOptions) -> ImageSet:
    files, skipped = _drop_junk(files, skipped)
    layout, groups = _layout(files)
    if layout == "domains":
        if domain is None:
            raise IngestError(f"{source!r} holds several domains ({', '.join(sorted(groups))}); "
                              "choose one of them as the domain")
        if domain not in groups:
            raise IngestError(f"no domain {domain!r} in {source!r}; domains: {', '.join(sorted(groups))}")
        return _build(groups[domain], skipped, f"{source}#{domain}", "domain/class folders", options)
    if domain is not None:
        raise IngestError(f"{source!r} is not a multi-domain folder, so it has no domain {domain!r}")
    kind = {"splits": "split/class folders", "classes": "class folders"}[layout]
    return _build(groups, skipped, source, kind, options)


def _clean_class_name(raw: str) -> str:
    return unicodedata.normalize("NFC", raw).strip()


# ---------------------------------------------------------------------------- decoding

def _build(entries, skipped, source: str, layout: str, options: IngestOptions) -> ImageSet:
    report = IngestReport(source=source, layout=layout)
    for path, reason in skipped:
        report.skip(path, reason)
    # Counted from the names, before a single image is decoded: a set over the limit costs nothing.
    limit = options.max_images or max_images()
    candidates = sum(_name_problem(path, cls) is None for _, cls, path, _ in entries)
    if candidates > limit:
        report.error = (f"refused: {source!r} has {candidates:,} image files, more than the limit of {limit:,} "
                        f"images per set ({IMAGES_ENV} changes it)")
        raise IngestError(report.error, report)
    pixel_limit = options.max_pixels or max_pixels()
    images, raw_labels, ids, given_splits, digests, sizes = [], [], [], [], [], []
    for split, cls, path, member in entries:
        reason = _name_problem(path, cls)
        if reason is None:
            try:
                decoded = decode_image(member.read(), path, max_pixels=pixel_limit, max_side=options.max_side)
            except ImageRejected as exc:
                reason = str(exc)
            # ValueError: a corrupt member offset makes zipfile seek before the start of the
            # file; LZMAError: a corrupt LZMA member (a zip may use any method zipfile reads).
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError,
                    NotImplementedError, RuntimeError) as exc:
                reason = f"could not be read ({type(exc).__name__}: {exc})"
        if reason is not None:
            report.skip(path, reason)
            continue
        images.append(decoded.pixels)
        raw_labels.append(_clean_class_name(cls))
        ids.append(path)
        given_splits.append(split)
        digests.append(decoded.digest)
        sizes.append(decoded.original_size)

    class_names, labels = _label_index(raw_labels, report)
    splits = _complete_split(labels, given_splits, options) if images else None
    image_set = ImageSet(source, images, labels, class_names, ids, splits, report)
    summarise(report, image_set, digests, sizes)
    try:
        validate(image_set)
    except IngestError as exc:
        report.error = str(exc)
        exc.report = report
        raise
    return image_set


def _junk_reason(path: str) -> str | None:
    parts = path.split("/")
    if any(p == "__MACOSX" for p in parts) or parts[-1].startswith("._"):
        return "macOS metadata, not an image"
    if any(p.startswith(".") for p in parts):
        return "hidden file or folder"
    if parts[-1].casefold() in JUNK_NAMES:
        return "system file, not an image"
    return None


def _drop_junk(files: list[ArchiveMember], skipped: list) -> tuple[list[ArchiveMember], list]:
    """Set aside OS metadata first, so a __MACOSX folder does not hide the real layout."""
    kept, skipped = [], list(skipped)
    for f in files:
        reason = _junk_reason(f.path)
        if reason:
            skipped.append((f.path, reason))
        else:
            kept.append(f)
    return kept, skipped


def _name_problem(path: str, cls: str | None) -> str | None:
    problem = extension_problem(path)
    if problem:
        return problem
    if cls is None or not _clean_class_name(cls):
        return "not inside a class folder (expected class_name/image)"
    return None


def _label_index(raw_labels: list[str], report: IngestReport):
    """Class names sorted; names that differ only by case are one class (with a warning)."""
    canonical: dict[str, str] = {}
    for name in sorted(set(raw_labels)):
        canonical.setdefault(name.casefold(), name)
    merged = sorted({n for n in raw_labels if canonical[n.casefold()] != n})
    if merged:
        report.warnings.append("class folders that differ only by case or surrounding spaces were merged: "
                               + ", ".join(f"{m!r} -> {canonical[m.casefold()]!r}" for m in merged))
    class_names = tuple(sorted(set(canonical.values())))
    index = {c: i for i, c in enumerate(class_names)}
    labels = np.array([index[canonical[n.casefold()]] for n in raw_labels], dtype=np.int64)
    return class_names, labels


def _complete_split(labels: np.ndarray, given: list[str | None], options: IngestOptions) -> np.ndarray:
    """Use the data's own split folders; carve whatever split is missing from train."""
    if all(s is None for s in given):
        return stratified_split(labels, options.val_fraction, options.test_fraction, options.seed)
    splits = np.array(given, dtype=object)
    present = set(splits.tolist())
    train = np.flatnonzero(splits == "train")
    missing_val, missing_test = "val" not in present, "test" not in present
    if len(train) and (missing_val or missing_test):
        carved = stratified_split(labels[train], options.val_fraction if missing_val else 0.0,
                                  options.test_fraction if missing_test else 0.0, options.seed)
        splits[train] = carved
    return splits


# ---------------------------------------------------------------------------- checks

def validate(image_set: ImageSet) -> None:
    """The hard errors: a set that cannot be trained on at all."""
    if len(image_set) == 0:
        raise IngestError("no usable images found; expected class folders of JPEG/PNG/BMP/GIF/WebP/TIFF "
                          "images (see the skipped files for why each file was left out)")
    counts = image_set.class_counts()
    if len(counts) < 2:
        only = next(iter(counts))
        raise IngestError(f"only one class ({only!r}) found; at least 2 classes (one folder each) are needed")
    small = [c for c, n in counts.items() if n < 2]
    if small:
        raise IngestError(f"classes with fewer than 2 images: {', '.join(map(repr, small))}; "
                          "each class needs at least 2 (one to train on, one to test)")


def check_domain_pair(source: ImageSet, target: ImageSet) -> list[str]:
    """Source and target must share labels; returns warnings for a partial overlap."""
    shared = set(source.class_names) & set(target.class_names)
    if not shared:
        raise IngestError(
            "source and target have no class in common (source: "
            f"{', '.join(source.class_names[:6])}; target: {', '.join(target.class_names[:6])}); "
            "domain adaptation needs the same classes in both")
    warnings = []
    for label, ds, other in (("source", source, target), ("target", target, source)):
        only = sorted(set(ds.class_names) - set(other.class_names))
        if only:
            warnings.append(f"{len(only)} classes only in the {label}: {', '.join(map(repr, only[:5]))}")
    return warnings
