"""The embedded cache: one file per key in a private directory, bounded in size, least
recently used first out, safe with writers in several processes.

* Values are plain data (:mod:`services.plain_data`): a file that is not in that format is
  a miss, never unpickled.
* Writes are atomic (a temporary file renamed into place), so a reader sees the old value
  or the new one, never half of one.
* ``max_bytes`` bounds the disk the entries use (their allocated blocks). Every write
  holds an exclusive lock on ``<directory>/.lock`` (flock: across processes and threads)
  while it makes room and renames its file in, so concurrent writers never push the
  store past the cap. A read marks its entry as used (its mtime): eviction drops the
  entries used longest ago.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import pathlib
import struct
import time

from services import plain_data

log = logging.getLogger("polyviz.services")

ENTRY_MAGIC = b"PVE\x01"
_EXPIRES = struct.Struct("<d")  # seconds since the epoch; 0 = never
HEADER_BYTES = len(ENTRY_MAGIC) + _EXPIRES.size
ENTRY_SUFFIX = ".entry"
TEMP_PREFIX = ".tmp-"
BLOCK = 4096


def disk_bytes(size: int) -> int:
    """What a file of ``size`` bytes takes on disk (whole blocks), before it exists."""
    return -(-size // BLOCK) * BLOCK


def used_bytes(stat: os.stat_result) -> int:
    return stat.st_blocks * 512


def mark_used(path) -> None:
    """Set the file's mtime (the eviction order) to now, in nanoseconds: the kernel's own
    timestamps are coarse (a few ms), and ties between a dozen fast writes evicted a value
    just written before older ones."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


class FileStore:
    def __init__(self, directory, max_bytes: int, default_timeout: float = 0):
        self.directory = pathlib.Path(directory)
        self.max_bytes = int(max_bytes)
        self.default_timeout = float(default_timeout)
        self.lock_path = self.directory / ".lock"

    # -- reading ---------------------------------------------------------------------------
    def path(self, key: str) -> pathlib.Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + ENTRY_SUFFIX)

    def get(self, key: str):
        """The value, or None (missing, expired, evicted, or not a value of ours)."""
        path = self.path(key)
        value, expired = self._read(path)
        if expired:
            self._drop_if_expired(path)
        return value

    def _read(self, path: pathlib.Path):
        """(value or None, whether the entry has expired), taking no lock (``add`` reads under it)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None, False
        if not data.startswith(ENTRY_MAGIC) or len(data) < HEADER_BYTES:
            log.warning("cache file %s is not a polyviz entry: ignored", path.name)
            return None, False
        (expires,) = _EXPIRES.unpack_from(data, len(ENTRY_MAGIC))
        if expires and expires < time.time():
            return None, True
        try:
            value = plain_data.loads(data[HEADER_BYTES:])
        except ValueError as error:
            log.warning("cache file %s is damaged (%s): ignored", path.name, error)
            return None, False
        with contextlib.suppress(FileNotFoundError):
            mark_used(path)
        return value, False

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    # -- writing ---------------------------------------------------------------------------
    def set(self, key: str, value, timeout: float | None = None) -> bool:
        """Store ``value`` (plain data, else :class:`plain_data.NotPlainData`). False when the
        value alone is larger than the whole cap (nothing is evicted for it)."""
        data = self._entry(value, timeout)
        if data is None:
            return False
        with self.locked():
            self._write(self.path(key), data)
        return True

    def add(self, key: str, value, timeout: float | None = None) -> bool:
        """Store ``value`` only if the key holds no live value (checked and written under one
        lock, so of two concurrent adds one wins); False otherwise."""
        data = self._entry(value, timeout)
        if data is None:
            return False
        path = self.path(key)
        with self.locked():
            if self._read(path)[0] is not None:
                return False
            self._write(path, data)  # an expired entry is simply replaced
        return True

    def _entry(self, value, timeout: float | None) -> bytes | None:
        """The file's bytes for a value, or None when they alone exceed the cap."""
        timeout = self.default_timeout if timeout is None else float(timeout)
        expires = time.time() + timeout if timeout > 0 else 0.0
        data = ENTRY_MAGIC + _EXPIRES.pack(expires) + plain_data.dumps(value)
        if disk_bytes(len(data)) > self.max_bytes:
            log.warning("cache value of %.1f MB is larger than the cache cap (%.1f MB): not stored",
                        len(data) / 1e6, self.max_bytes / 1e6)
            return None
        return data

    def _write(self, path: pathlib.Path, data: bytes) -> None:
        """Make room and rename the entry into place (caller holds the lock)."""
        self._make_room(disk_bytes(len(data)))
        temp = self.directory / f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        try:
            with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                file.write(data)
            mark_used(temp)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise

    def delete(self, key: str) -> bool:
        with self.locked():
            try:
                self.path(key).unlink()
                return True
            except FileNotFoundError:
                return False

    def clear(self) -> bool:
        with self.locked():
            for entry in self._entries():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        return True

    # -- size ------------------------------------------------------------------------------
    def usage(self) -> tuple[int, int]:
        """(entries, bytes on disk) of the store now (temporary files of writes included)."""
        count = total = 0
        for entry in os.scandir(self.directory):
            with contextlib.suppress(FileNotFoundError):
                if entry.name.endswith(ENTRY_SUFFIX):
                    count += 1
                if entry.name != ".lock":
                    total += used_bytes(entry.stat(follow_symlinks=False))
        return count, total

    @contextlib.contextmanager
    def locked(self):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _entries(self):
        with contextlib.suppress(FileNotFoundError):
            yield from (e for e in os.scandir(self.directory) if e.name.endswith(ENTRY_SUFFIX))

    def _make_room(self, need: int) -> None:
        """Evict least recently used entries until ``need`` more bytes fit under the cap
        (caller holds the lock). A replaced entry counts until it is replaced, so the store
        stays under the cap at every moment, not only after the rename."""
        entries, total = [], 0
        for entry in os.scandir(self.directory):
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.name.startswith(TEMP_PREFIX):
                # writers make temporary files only while holding the lock we hold now: this
                # one is left by a writer that died mid-write
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                continue
            if entry.name.endswith(ENTRY_SUFFIX):
                entries.append((stat.st_mtime_ns, entry.path, used_bytes(stat)))
                total += used_bytes(stat)
        if total + need <= self.max_bytes:
            return
        entries.sort()
        for _mtime, path, size in entries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                total -= size
            if total + need <= self.max_bytes:
                return

    def _drop_if_expired(self, path: pathlib.Path) -> None:
        """Remove an expired entry, re-checked under the lock: a writer may just have put a
        fresh value there."""
        with self.locked(), contextlib.suppress(FileNotFoundError):
            with open(path, "rb") as file:
                head = file.read(HEADER_BYTES)
            if head.startswith(ENTRY_MAGIC) and len(head) == HEADER_BYTES:
                (expires,) = _EXPIRES.unpack_from(head, len(ENTRY_MAGIC))
                if expires and expires < time.time():
                    path.unlink()
