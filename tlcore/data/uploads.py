"""Uploads a run can use: whatever the browser sent (a zip, a folder's files, images per
class) becomes one zip, validated by ingest, then kept content-addressed under the runs
folder so the worker process can read it and a later run of the same data reuses it."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

from ..atomic import write_bytes
from .errors import IngestError
from .imageset import ImageSet
from .ingest import ingest_zip_bytes


def zip_files(items: list[tuple[str, bytes]]) -> bytes:
    """Files with their relative paths (a folder upload: 'pets/cat/1.jpg') as one zip, in memory.
    The names are checked again when the zip is read, like any uploaded zip's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i, (name, data) in enumerate(items):
            name = name.replace("\\", "/").lstrip("/") or f"file{i}"
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_classes(classes: dict[str, list[tuple[str, bytes]]]) -> bytes:
    """Images per class typed in by the user: the class name becomes the folder."""
    items = []
    for cls, files in classes.items():
        folder = re.sub(r"[/\\]+", "_", cls).strip() or "unnamed"
        # Base names only (a browser-supplied name is not a path to trust); an index keeps
        # two files of the same name apart.
        items += [(f"{folder}/{i:05d}_{name.replace(chr(92), '/').rsplit('/', 1)[-1]}", data)
                  for i, (name, data) in enumerate(files)]
    return zip_files(items)


def keep_upload(data: bytes, name: str, root: str | Path) -> tuple[Path, ImageSet]:
    """Validate a zip (IngestError with the reason if it cannot be used), then store it as
    ROOT/uploads/<sha256>.zip. Returns the stored path and the image set."""
    image_set = ingest_zip_bytes(data, name)
    digest = hashlib.sha256(data).hexdigest()[:20]
    folder = Path(root) / "uploads"
    path = folder / f"{digest}.zip"
    if not path.exists():
        try:
            write_bytes(path, data)
        except OSError as exc:
            raise IngestError(f"the upload could not be kept for training: {exc.strerror or exc}") from None
    return path, image_set
