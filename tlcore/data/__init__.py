"""Data in: user uploads, folders and zips validated into an ImageSet with a report,
and the built-in domains."""
from __future__ import annotations

from pathlib import Path

from .archive import ArchiveLimits
from .captures import CaptureError, CaptureSet, is_capture_id, min_per_class
from .domains import DomainInfo, DomainUnavailable, domain_info, is_domain, list_domains, load_domain, register_domain
from .errors import IngestError
from .imageset import ImageSet
from .ingest import (IngestOptions, check_domain_pair, ingest_domains, ingest_path, ingest_uploads, ingest_zip_bytes,
                     validate)
from .report import IngestReport
from .split import stratified_split
from .uploads import keep_upload, zip_classes, zip_files


def load_image_set(spec: str | Path, domain: str | None = None, options: IngestOptions | None = None) -> ImageSet:
    """A built-in domain by name, or a folder / zip on disk."""
    options = options or IngestOptions()
    if isinstance(spec, str) and is_domain(spec):
        return load_domain(spec, seed=options.seed, val_fraction=options.val_fraction,
                           test_fraction=options.test_fraction)
    return ingest_path(spec, domain=domain, options=options)


__all__ = [
    "ArchiveLimits", "CaptureError", "CaptureSet", "DomainInfo", "DomainUnavailable", "ImageSet", "IngestError",
    "IngestOptions", "IngestReport", "check_domain_pair", "domain_info", "ingest_domains", "ingest_path",
    "ingest_uploads", "ingest_zip_bytes", "is_capture_id", "is_domain", "keep_upload", "list_domains", "load_domain",
    "load_image_set", "min_per_class", "register_domain", "stratified_split", "validate", "zip_classes", "zip_files",
]
