"""Read the files of a zip archive or a server folder into memory, safely and within limits.

Nothing is ever extracted to disk. A zip is checked as a whole before any member is read: member
paths that would escape the archive (`../`, absolute paths, drive letters), symbolic links, encryption,
compression other than stored/deflate, too many members, and declared sizes over the limit are all
rejected. While reading, the bytes actually produced are counted too, because headers can lie.

    python -c "from mnist_core.own_data.archive import zip_members; print(list(zip_members(open('x.zip','rb').read())))"

Every bad input raises mnist_core.data.DataError, the one error of loading and importing data.
"""
from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import BinaryIO, NamedTuple

from mnist_core.data import DataError

MB = 1024 * 1024
CHUNK = 1 * MB
SYMLINK_MODE = 0o120000
SAFE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # bzip2/lzma can expand unboundedly per read


def printable(text: str) -> str:
    """`text` with control and format characters (ANSI escapes, newlines, bidi overrides) written as \\x1b-style
    escapes: every file, member or class name goes through it before it is printed or shown, so a name cannot
    colour a terminal or forge a line of a report."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in UNPRINTABLE else c
                   for c in text)


UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one import; tests shrink them. Limits.from_env() reads each from its setting."""

    upload_bytes: int = 200 * MB  # the uploaded or named .zip/.npz file itself
    unpacked_bytes: int = 1024 * MB  # everything read out of an archive or folder, all members together
    files: int = 100_000  # members of an archive, files in a folder
    image_pixels: int = 50_000_000  # width x height of one image, checked before decoding it
    total_pixels: int = 200_000_000  # width x height summed over one import's images (npz: array elements)
    memory_bytes: int = 2048 * MB  # the dashboard's analysis process: address space it may add
    cpu_seconds: int = 600  # ... and CPU time, after which it is killed (so a closed tab cannot leave it running)

    @classmethod
    def from_env(cls, environ=os.environ) -> Limits:
        """The limits with each overridden by its environment variable (SETTINGS), e.g. MNIST_IMPORT_MAX_PIXELS."""
        values = {}
        for f in fields(cls):
            name, unit = SETTINGS[f.name]
            if raw := environ.get(name, "").strip():
                try:
                    values[f.name] = int(float(raw) * unit)
                except ValueError:
                    raise DataError(f"Setting {name}={raw!r} is not a number.") from None
                if values[f.name] <= 0:
                    raise DataError(f"Setting {name} must be above 0, got {raw!r}.")
        return cls(**values)


SETTINGS = {  # Limits field -> (environment variable, unit it is given in); docs/own-data.md lists them
    "upload_bytes": ("MNIST_IMPORT_MAX_FILE_MB", MB), "unpacked_bytes": ("MNIST_IMPORT_MAX_UNPACKED_MB", MB),
    "files": ("MNIST_IMPORT_MAX_FILES", 1), "image_pixels": ("MNIST_IMPORT_MAX_IMAGE_PIXELS", 1),
    "total_pixels": ("MNIST_IMPORT_MAX_PIXELS", 1), "memory_bytes": ("MNIST_IMPORT_MEMORY_MB", MB),
    "cpu_seconds": ("MNIST_IMPORT_CPU_SECONDS", 1)}
DEFAULT_LIMITS = Limits()
Sniff = Callable[[bytes], bool]  # does a file whose first bytes are these deserve reading whole?
SNIFF_BYTES = 16


class Member(NamedTuple):
    """One entry: a file (`data` holds its bytes), a folder (`path` ends with "/", no data) or a file
    that could not be read (`data` is None and `note` says why)."""

    path: str
    data: bytes | None
    note: str = ""


def read_limited(stream: BinaryIO, budget: int, what: str, head: bytes = b"") -> bytes:
    """`head` (bytes already read from it) plus the rest of `stream`, but raise DataError as soon as more
    than `budget` bytes come out."""
    parts, total = [head], len(head)
    while total <= budget:
        if not (chunk := stream.read(min(CHUNK, budget + 1 - total))):
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
    raise DataError(f"{what} unpacks to more data than allowed ({budget / MB:.0f} MB in all); "
                    "it may be a zip bomb. Nothing was imported.")


def check_member_name(name: str) -> str | None:
    """Why a member path is unsafe, or None when it stays inside the archive."""
    if "\x00" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "has a path that escapes the archive (..)"
    return None


def zip_members(data: bytes, limits: Limits = DEFAULT_LIMITS, what: str = "The archive",
                sniff: Sniff | None = None) -> Iterator[Member]:
    """Check the whole archive now (DataError if unsafe), then yield its members one by one, sorted.
    With `sniff`, a member whose first bytes it refuses is yielded unread, as not an image."""
    archive, infos = open_zip(data, limits, what)
    return _read_zip(archive, infos, limits, what, sniff)


def open_zip(data: bytes, limits: Limits = DEFAULT_LIMITS, what: str = "The archive",
             ) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive and its members sorted by name, after checking all of them (DataError if unsafe)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # damaged archives fail in many ways inside zipfile (even NotImplementedError)
        raise DataError(f"{what} is not a readable zip file ({type(exc).__name__}: {exc}).") from exc
    infos = archive.infolist()
    if len(infos) > limits.files:
        raise DataError(f"{what} has {len(infos):,} members; the limit is {limits.files:,} files.")
    for info in infos:
        reason = check_member_name(info.filename)
        if reason is None and (info.external_attr >> 16) & 0o170000 == SYMLINK_MODE:
            reason = "is a symbolic link (links are not allowed in archives)"
        if reason is None and info.flag_bits & 0x1:
            reason = "is encrypted"
        if reason is None and info.compress_type not in SAFE_COMPRESSION:
            reason = f"uses compression method {info.compress_type}; re-create the zip with standard deflate"
        if reason:
            raise DataError(f"Unsafe or unsupported archive: member {info.filename!r} {reason}. "
                            "Nothing was imported.")
    declared = sum(i.file_size for i in infos)
    if declared > limits.unpacked_bytes:
        raise DataError(f"{what} declares {declared / MB:,.0f} MB of unpacked data; the limit is "
                        f"{limits.unpacked_bytes / MB:.0f} MB. Nothing was imported.")
    if not any(not i.is_dir() for i in infos):
        raise DataError(f"{what} is empty: it holds no files.")
    return archive, sorted(infos, key=lambda i: i.filename)


NOT_AN_IMAGE = "not an image (or not PNG, JPEG, BMP or TIFF)"


def _read_zip(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: Limits, what: str,
              sniff: Sniff | None) -> Iterator[Member]:
    budget = limits.unpacked_bytes
    for info in infos:
        if info.is_dir():
            yield Member(info.filename, None)
            continue
        try:
            with archive.open(info) as stream:
                head = stream.read(SNIFF_BYTES)
                if sniff is not None and not sniff(head):  # never inflate what cannot be an image
                    yield Member(info.filename, None, NOT_AN_IMAGE)
                    continue
                content = read_limited(stream, budget, what, head)
        except DataError:
            raise
        except Exception as exc:  # zipfile and zlib raise many types for damaged data (even a bad seek)
            raise DataError(f"{what} is corrupt: member {info.filename!r} cannot be read "
                            f"({type(exc).__name__}: {exc}).") from exc
        if len(content) != info.file_size:
            raise DataError(f"{what} is corrupt or crafted: member {info.filename!r} holds {len(content):,} "
                            f"bytes but its header says {info.file_size:,}.")
        budget -= len(content)
        yield Member(info.filename, content)


def folder_members(root: Path | str, limits: Limits = DEFAULT_LIMITS, sniff: Sniff | None = None,
                   shown: str | None = None) -> Iterator[Member]:
    """Check the folder now (exists, not too many files), then yield its files and subfolders, sorted.

    Every entry is lstat-ed before anything opens it: symbolic links are never followed and special files
    (pipes, devices) are never opened; both are yielded with a note instead of data, as are files that
    cannot be read and (with `sniff`) files whose first bytes show they are no image, which are not read
    further. Messages name the folder as `shown` (default: its path), the files relative to it.
    """
    root = Path(root).expanduser()
    shown = printable(shown if shown is not None else str(root))
    if not root.is_dir():
        raise DataError(f"{shown} is not a folder on this server.")
    entries: list[tuple[str, Path, bool]] = []  # (relative posix path, absolute path, is a folder)
    files_seen = 0
    def refuse_unreadable(exc: OSError) -> None:  # os.walk's hook: an unlistable folder would drop its images
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else ""
        raise DataError(f"Cannot read folder {printable(where or '.')} in {shown} ({exc.strerror or exc}); fix "
                        "its permissions or leave it out.") from exc

    for folder, dirs, files in os.walk(root, followlinks=False, onerror=refuse_unreadable):
        dirs.sort()
        for name in dirs + sorted(files):
            path = Path(folder) / name
            is_dir = name in dirs and not path.is_symlink()  # a linked folder is listed, never entered
            files_seen += not is_dir
            if files_seen > limits.files:
                raise DataError(f"{shown} holds more than {limits.files:,} files; that is the limit.")
            entries.append((path.relative_to(root).as_posix() + ("/" if is_dir else ""), path, is_dir))
    if not files_seen:
        raise DataError(f"{shown} is empty: it holds no files.")
    return _read_folder(sorted(entries), limits, shown, sniff)


def _read_folder(entries: list[tuple[str, Path, bool]], limits: Limits, what: str,
                 sniff: Sniff | None) -> Iterator[Member]:
    budget = limits.unpacked_bytes
    for rel, path, is_dir in entries:
        if is_dir:
            yield Member(rel, None)
            continue
        try:
            before = os.lstat(path)  # before any open: opening a device node can already do something
            if stat.S_ISLNK(before.st_mode):
                yield Member(rel, None, "symbolic link (not followed)")
                continue
            if not stat.S_ISREG(before.st_mode):
                yield Member(rel, None, "not a regular file (never opened)")  # a pipe or device
                continue
            # O_NOFOLLOW, then fstat: the entry may have been swapped for a link or device since lstat
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as stream:
                now = os.fstat(stream.fileno())
                if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(now.st_mode):
                    yield Member(rel, None, "changed while it was being read (skipped)")
                    continue
                head = stream.read(SNIFF_BYTES)
                if sniff is not None and not sniff(head):  # a non-image file is never read whole
                    yield Member(rel, None, NOT_AN_IMAGE)
                    continue
                content = read_limited(stream, budget, what, head)
        except OSError as exc:
            yield Member(rel, None, f"unreadable ({exc.strerror or exc})")
            continue
        budget -= len(content)
        yield Member(rel, content)
