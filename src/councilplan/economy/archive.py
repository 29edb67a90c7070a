"""An economy bundle as one deterministic archive: the form a federation's economy is
stored in, and named by, so that a plan can be re-run from the record on the same economy.

:func:`pack_bundle` zips exactly the files that define the economy (``economy.toml`` and
the tables) in sorted order, stored uncompressed, with fixed timestamps and permissions
and no directory entries or extra fields: the same content gives the same bytes on every
machine (deflate's output depends on the zlib build, so nothing is compressed; Parquet
and ``.csv.gz`` tables are compressed already). :func:`bundle_digest` names the archive by
its SHA-256, and :func:`economy_from_archive` reads it back, keeping the last few
economies read, since a 10^5-product economy takes seconds to read.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import tomllib
import zipfile
from collections import OrderedDict
from pathlib import Path

import tomli_w

import councilplan.economy.tables as tables
from councilplan.economy.bundle import MANIFEST, TABLES, _read_folder, _unzip
from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy
from councilplan.errors import Where

#: The most bytes the files of one archive may hold, unpacked (1 GiB: a 10^6-product
#: economy is about 450 MB as CSV, 160 MB as Parquet).
MAX_BUNDLE_BYTES = 1 << 30
#: How many economies :func:`economy_from_archive` keeps, by digest.
CACHE_SIZE = 4

# Every member is stored with these, so that only the files' names and bytes vary.
_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # a regular file, rw-r--r--
_UNIX = 3
# The names a member may have: the manifest and the tables in any of their formats.
_MEMBERS = frozenset([MANIFEST] + [spec.name + s for spec in TABLES for s in tables.SUFFIXES])
_CHUNK = 1 << 20


def pack_bundle(path: str | os.PathLike) -> bytes:
    """The bundle in folder (or .zip file) ``path`` as one deterministic zip archive.

    The archive holds ``economy.toml`` and the table files, byte for byte, and nothing
    else: a README, a licence or a ``needs/`` folder stays out (needs are stated by the
    councils, not part of the economy), so they do not change the archive. A table file
    that is not one of the bundle's is refused, as :func:`read_bundle` refuses it. When the
    manifest has no ``name``, the name the folder gives the economy is added to the
    archive's manifest, so that the archive reads back as the same economy wherever it is
    unpacked.

    The files are checked as :func:`read_bundle` checks them, from the bytes that are
    packed; its :class:`EconomyError` names the file, row, id and field of a problem.
    """
    path = Path(path)
    if path.is_file() and path.name == MANIFEST:
        path = path.parent
    if path.suffix.lower() == ".zip" and path.is_file():
        with tempfile.TemporaryDirectory(prefix="councilplan-pack-") as scratch:
            files = _bundle_files(_unzip(path, Path(scratch)), path)
    elif path.is_dir():
        files = _bundle_files(path, path)
    else:
        raise EconomyError(
            "no such folder or .zip file: there is no economy bundle to pack", Where(str(path))
        )
    economy = _read_files(files, path)
    manifest = tomllib.loads(files[MANIFEST].decode("utf-8-sig"))
    if "name" not in manifest:
        files[MANIFEST] = _named(files[MANIFEST], economy.name)
    return _zipped(files)


def bundle_digest(archive: bytes) -> str:
    """SHA-256 (hex) of an archive's bytes: the name the economy is stored and cited by."""
    return hashlib.sha256(archive).hexdigest()


_cache: OrderedDict[str, Economy] = OrderedDict()
_cache_lock = threading.Lock()


def economy_from_archive(archive: bytes) -> Economy:
    """The economy in an archive made by :func:`pack_bundle`.

    The last :data:`CACHE_SIZE` economies read are kept by digest, and the same
    :class:`Economy` object is returned for the same bytes; an Economy's arrays are
    read-only, so sharing it cannot change one caller's results behind another's back.

    Raises :class:`EconomyError` naming what is wrong: bytes that are not a zip archive, a
    member that is not one of a bundle's files (a folder, a path such as ``../x``), files
    that unpack to more than :data:`MAX_BUNDLE_BYTES`, or a problem in the bundle itself,
    named by file, row, id and field as in ``bundle-<digest>/inputs.csv``.
    """
    digest = bundle_digest(archive)
    with _cache_lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]
    # Read outside the lock: another archive need not wait seconds for this one.
    economy = _read_files(_unpacked(archive, digest), Path(f"bundle-{digest[:12]}"))
    with _cache_lock:
        economy = _cache.setdefault(digest, economy)
        _cache.move_to_end(digest)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return economy


# -- packing ---------------------------------------------------------------------------


def _bundle_files(folder: Path, shown: Path) -> dict[str, bytes]:
    """The manifest and every table file at the top of ``folder``, by name. Table files
    with other names come along, so that reading them refuses them as read_bundle does."""
    files = {}
    total = 0
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and (entry.name == MANIFEST or tables.stem(entry.name) is not None):
            total += entry.stat().st_size
            if total > MAX_BUNDLE_BYTES:
                raise EconomyError(
                    f"the bundle's files hold more than {MAX_BUNDLE_BYTES:,} bytes, the most "
                    "an archive may hold; write its large tables as Parquet",
                    Where(str(shown)),
                )
            files[entry.name] = entry.read_bytes()
    return files


def _named(manifest: bytes, name: str) -> bytes:
    """``manifest`` with a ``name`` line added at its end (it may hold only top-level keys,
    so a key appended after its last line is one of them)."""
    text = manifest.decode("utf-8-sig")
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# The name of the folder the bundle was packed from (pack_bundle).\n"
    text += tomli_w.dumps({"name": name})
    if tomllib.loads(text).get("name") != name:
        raise EconomyError(
            f"could not add name {name!r} to the manifest; add a name line to it",
            Where(MANIFEST, field="name"),
        )
    return text.encode("utf-8")


def _zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            z.writestr(info, files[name])
    return buffer.getvalue()


# -- reading ---------------------------------------------------------------------------


def _read_files(files: dict[str, bytes], shown: Path) -> Economy:
    """Read a bundle from its files' bytes, as read_bundle reads ``shown``: errors name the
    files as in ``shown``, and an economy without a name in its manifest is named after it."""
    with tempfile.TemporaryDirectory(prefix="councilplan-archive-") as scratch:
        folder = Path(scratch)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return _read_folder(folder, shown, check_productive=True)


def _unpacked(archive: bytes, digest: str) -> dict[str, bytes]:
    """The files of an archive by name, each checked to be one of a bundle's files."""
    where = Where(f"bundle-{digest[:12]}")
    if not isinstance(archive, bytes | bytearray | memoryview):
        raise TypeError(f"an archive is bytes, not {type(archive).__name__}")
    try:
        z = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile as e:
        raise EconomyError(
            f"the archive is not a zip file ({e}); it should be the bytes pack_bundle made",
            where,
        ) from None
    files: dict[str, bytes] = {}
    total = 0
    with z:
        for info in z.infolist():
            name = info.filename
            if name not in _MEMBERS:
                what = (
                    "a path outside the bundle's folder"
                    if ".." in name.replace("\\", "/").split("/") or name.startswith(("/", "\\"))
                    else "a folder"
                    if info.is_dir()
                    else "not one of a bundle's files"
                )
                raise EconomyError(
                    f"the archive has member {name!r} ({what}); an archive holds only "
                    f"{MANIFEST} and the bundle's tables, at its top",
                    where,
                )
            if name in files:
                raise EconomyError(f"the archive has member {name!r} twice", where)
            total += info.file_size
            if total > MAX_BUNDLE_BYTES:
                raise _too_big(name, where)
            try:
                with z.open(info) as member:
                    # Read in chunks and count: a member's stated size is not trusted.
                    chunks, size = [], 0
                    while chunk := member.read(_CHUNK):
                        size += len(chunk)
                        if total - info.file_size + size > MAX_BUNDLE_BYTES:
                            raise _too_big(name, where)
                        chunks.append(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as e:
                raise EconomyError(
                    f"cannot read member {name!r} of the archive: {e}", where
                ) from None
            files[name] = b"".join(chunks)
    if MANIFEST not in files:
        raise EconomyError(f"the archive has no {MANIFEST}: it holds no economy bundle", where)
    return files


def _too_big(name: str, where: Where) -> EconomyError:
    return EconomyError(
        f"the archive's files unpack to more than {MAX_BUNDLE_BYTES:,} bytes (at member "
        f"{name!r}), the most an archive may hold",
        where,
    )
