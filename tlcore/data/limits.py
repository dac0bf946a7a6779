"""The bounds on user data, defined here once: upload size, images per set, pixels per image.

Each default can be changed by an environment variable, read when data is ingested (not at
import), so a server started with a different value and a test that sets one both see it.
The archive limits (members, inflated sizes, compression ratio) are ``ArchiveLimits`` in
archive.py; the run limits (concurrent jobs, free disk) are in ``tlcore.runs.limits``.
"""
from __future__ import annotations

import os

from ..config import env_int

MiB = 1024 * 1024

# The dashboard's uploader refuses bigger files itself: server.maxUploadSize in
# .streamlit/config.toml must say the same (a test checks that they agree). Ingest applies
# it again to the bytes it is handed, so the Python API and a folder upload (many files,
# each under Streamlit's per-file limit, zipped into one) are bounded too.
DEFAULT_MAX_UPLOAD_MB = 200
# Decoded images are held in memory, downscaled to at most 512 px a side (up to 768 KiB
# each): 10,000 of them can take about 7.5 GiB in the worst case.
DEFAULT_MAX_IMAGES = 10_000
DEFAULT_MAX_PIXELS = 40_000_000  # about 6300 x 6300, checked from the header before decoding

UPLOAD_ENV = "TLSTUDIO_MAX_UPLOAD_MB"
# Streamlit reads this one for server.maxUploadSize; honouring it here means one variable
# raises both bounds together.
STREAMLIT_UPLOAD_ENV = "STREAMLIT_SERVER_MAX_UPLOAD_SIZE"
IMAGES_ENV = "TLSTUDIO_MAX_IMAGES"
PIXELS_ENV = "TLSTUDIO_MAX_PIXELS"


def max_upload_mb() -> int:
    """$TLSTUDIO_MAX_UPLOAD_MB, else $STREAMLIT_SERVER_MAX_UPLOAD_SIZE, else 200 (MB = MiB,
    as Streamlit counts them)."""
    if os.environ.get(UPLOAD_ENV, "").strip():
        return env_int(UPLOAD_ENV, DEFAULT_MAX_UPLOAD_MB)
    return env_int(STREAMLIT_UPLOAD_ENV, DEFAULT_MAX_UPLOAD_MB)


def max_images() -> int:
    return env_int(IMAGES_ENV, DEFAULT_MAX_IMAGES)


def max_pixels() -> int:
    return env_int(PIXELS_ENV, DEFAULT_MAX_PIXELS)
