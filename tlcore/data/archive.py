"""Open an untrusted zip archive: every member is checked from the directory listing
before a single byte is inflated, and nothing is ever extracted to disk."""
from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import IngestError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 50_000
    max_member_bytes: int = 64 * MiB  # one image, uncompressed
    max_total_bytes: int = 2048 * MiB  # the whole archive, uncompressed
    # Images barely compress; a member that inflates over 100x is a bomb, not a photo.
    # Small members are exempt: a tiny blank BMP can legitimately compress very well.
    max_ratio: float = 100.0
    ratio_exempt_bytes: int = 1 * MiB


@dataclass(frozen=True)
class ArchiveMember:
    path: str  # normalised, '/'-separated, relative
    read: Callable[[], bytes]


def _normalised_name(raw: str) -> str:
    """The member's path with '/' separators; IngestError if it points outside the archive."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IngestError(f"refused: the archive contains an absolute path {raw!r} "
                          "(a zip-slip attack or a broken archive)")
    if ".." in PurePosixPath(name).parts:
        raise IngestError(f"refused: the archive contains a path that climbs out of it, {raw!r} "
                          "(a zip-slip attack)")
    return name


def open_zip(source: bytes | str | Path, limits: ArchiveLimits = ArchiveLimits()):
    """Validate the archive listing; return (members, skipped[(path, reason)])."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError) as exc:  # a member needing a newer zip version fails here
        raise IngestError(f"not a valid zip archive ({exc})") from None
    if len(infos) > limits.max_members:
        raise IngestError(f"refused: the archive has {len(infos):,} members, more than the limit "
                          f"of {limits.max_members:,}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise IngestError(f"refused: the archive would inflate to {total / MiB:,.0f} MiB, more than the "
                          f"limit of {limits.max_total_bytes / MiB:,.0f} MiB (a zip bomb?)")
    members, skipped = [], []
    for info in infos:
        name = _normalised_name(info.filename)
        if not name:  # a name starting with NUL, which zipfile cuts to nothing
            skipped.append(("(no name)", "archive member without a name (a broken archive)"))
            continue
        if info.is_dir():
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            skipped.append((name, "symbolic link inside the archive (not followed)"))
        elif info.flag_bits & 0x1:
            skipped.append((name, "encrypted archive member (password-protected zips are not supported)"))
        elif (info.file_size > limits.ratio_exempt_bytes
              and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            ratio = info.file_size / max(info.compress_size, 1)
            raise IngestError(f"refused: member {name!r} would inflate {ratio:,.0f}x "
                              f"to {info.file_size / MiB:,.0f} MiB (a zip bomb?)")
        elif info.file_size > limits.max_member_bytes:
            skipped.append((name, f"member too large ({info.file_size / MiB:,.0f} MiB uncompressed, "
                                  f"limit {limits.max_member_bytes / MiB:,.0f} MiB)"))
        else:
            members.append(ArchiveMember(name, _reader(zf, info, limits.max_member_bytes)))
    return members, skipped


def _reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        # zipfile stops at the declared size and checks the CRC; reading one byte past
        # the limit catches a member whose header lies about its size. Ask for no more than
        # the declared size: zipfile inflates as much as is asked for before cutting, so a
        # member declaring 1 KB could make it inflate the whole 64 MiB limit.
        with zf.open(info) as fh:
            data = fh.read(min(info.file_size, max_bytes) + 1)
        if len(data) > max_bytes:
            raise OSError("member larger than declared")
        return data
    return read

