"""The embedded cache and its data directory: private to the user, plain data only (a planted
pickle is never run), bounded in size with least-recently-used eviction, safe with several
writer processes."""

from __future__ import annotations

import math
import os
import pathlib
import pickle
import stat
import subprocess
import sys

import pytest

from services import cache, plain_data
from services.file_store import ENTRY_MAGIC, FileStore

ROOT = pathlib.Path(__file__).resolve().parent.parent


# --- the data directory -----------------------------------------------------------------------

def test_the_default_data_directory_is_the_users_xdg_cache_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYVIZ_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = cache.data_dir()
    assert path == tmp_path / "xdg" / "polyviz"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700 and path.stat().st_uid == os.geteuid()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.data_dir() == tmp_path / "home" / ".cache" / "polyviz"
    assert stat.S_IMODE((tmp_path / "home" / ".cache" / "polyviz").stat().st_mode) == 0o700
    # the old shared default under the system temp directory is gone
    assert not str(cache.data_dir()).startswith("/tmp/polyviz")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_directory_others_may_write_to_is_refused_in_words(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(cache.UnsafeDataDir, match=r"can be written by other users .*chmod 700"):
        cache.private_directory(shared)


def someone_elses_directory(tmp_path) -> pathlib.Path:
    if os.geteuid() == 0:  # root can make one; anyone else finds one owned by root
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        os.chown(other, 65534, 65534)
        return other
    return pathlib.Path("/")


def test_a_directory_of_another_user_is_refused_in_words(tmp_path):
    with pytest.raises(cache.UnsafeDataDir, match=r"belongs to user id \d+, not to this user .*POLYVIZ_DATA_DIR"):
        cache.private_directory(someone_elses_directory(tmp_path))


@pytest.mark.parametrize("unsafe", ["writable", "owner"])
def test_the_app_refuses_to_start_on_an_unsafe_data_directory(tmp_path, unsafe):
    if unsafe == "writable":
        path = tmp_path / "shared"
        path.mkdir()
        path.chmod(0o777)
    else:
        path = someone_elses_directory(tmp_path)
    env = {**os.environ, "POLYVIZ_DATA_DIR": str(path)}
    run = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    assert "UnsafeDataDir" in run.stderr and f"The data directory {path}" in run.stderr
    if unsafe == "writable":
        assert not (path / "cache").exists()  # refused before anything was written there


def test_limits_from_the_environment_are_checked(monkeypatch):
    monkeypatch.setenv("POLYVIZ_CACHE_MAX_MB", "0")
    with pytest.raises(ValueError, match="POLYVIZ_CACHE_MAX_MB = '0' is not allowed: it must be a number above 0"):
        cache.cache_max_bytes()
    monkeypatch.setenv("POLYVIZ_CACHE_MAX_MB", "200")
    assert cache.cache_max_bytes() == 200 * 1024 * 1024
    monkeypatch.setenv("POLYVIZ_CACHE_TIMEOUT", "0")  # 0 would mean Redis keys without a TTL
    with pytest.raises(ValueError, match="POLYVIZ_CACHE_TIMEOUT"):
        cache.cache_config()


# --- plain data only ------------------------------------------------------------------------

class Planted:
    """A pickle that, when loaded, creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_plain_data_round_trips_and_anything_else_is_refused():
    value = {"a": [1, 2.5, float("inf"), None, True, "x"], "w": b"\x00\xff" * 10, "nested": {"b": [b"", b"z"]},
             "t": (1, 2)}
    back = plain_data.loads(plain_data.dumps(value))
    assert back == {**value, "t": [1, 2]}
    assert math.isnan(plain_data.loads(plain_data.dumps([float("nan")]))[0])
    for bad in (object(), {1: "int key"}, {plain_data.BYTES_TAG: 0}, [Planted("x")], {1.5}):
        with pytest.raises(plain_data.NotPlainData):
            plain_data.dumps(bad)
    for damaged in (b"", pickle.dumps({"a": 1}), plain_data.dumps(b"abc")[:-1], plain_data.MAGIC + b"\xff" * 8):
        with pytest.raises(ValueError):
            plain_data.loads(damaged)


def test_a_planted_pickle_in_the_cache_directory_is_never_run(tmp_path):
    store = FileStore(cache.private_directory(tmp_path / "cache"), max_bytes=10 * 2**20)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Planted(marker))
    plants = {
        "raw pickle": payload,
        "flask-caching FileSystemCache file": b"\x00\x00\x00\x00" + payload,
        "our header, a pickle behind it": ENTRY_MAGIC + b"\x00" * 8 + payload,
    }
    for what, content in plants.items():
        store.path("polyviz-1:train-run:" + "ab" * 20).write_bytes(content)
        assert store.get("polyviz-1:train-run:" + "ab" * 20) is None, what
        assert not marker.exists(), f"the planted {what} was unpickled"
    assert store.set("k", {"ok": b"1"}) and store.get("k") == {"ok": b"1"}  # the store still works


def test_a_planted_pickle_in_redis_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    serializer = cache.PlainRedisCache.serializer
    assert serializer.loads(b"!" + pickle.dumps(Planted(marker))) is None  # cachelib's pickle framing
    assert serializer.loads(pickle.dumps(Planted(marker))) is None
    assert not marker.exists()
    assert serializer.loads(serializer.dumps({"x": b"y"})) == {"x": b"y"}


def test_the_apps_cache_stores_plain_data_and_refuses_objects(dash_app):
    with dash_app.server.app_context():
        assert isinstance(cache.cache.cache, cache.PlainFileCache)
        assert cache.cache_set("probe", {"b": b"bytes", "n": 1})
        assert cache.cache_get("probe") == {"b": b"bytes", "n": 1}
        with pytest.raises(plain_data.NotPlainData):  # a bug, not an outage: it is not swallowed
            cache.cache_set("probe", Planted("x"))
        stored = list(pathlib.Path(cache.cache.cache.store.directory).glob("*.entry"))
        assert stored and all(p.read_bytes().startswith(ENTRY_MAGIC) for p in stored)


def test_add_stores_only_into_an_empty_or_expired_key_and_never_hangs(tmp_path):
    """flask-caching's ``add`` (PlainFileCache.add): it took the store's lock, then the read of an
    expired entry took it again and waited for itself for ever."""
    import threading
    import time

    store = cache.PlainFileCache(cache.private_directory(tmp_path / "cache"), max_bytes=10 * 2**20)
    answers = {}

    def adds():
        answers["fresh"] = store.add("k", {"v": 1})
        answers["taken"] = store.add("k", {"v": 2})
        answers["kept"] = store.get("k")
        store.set("old", {"v": 3}, timeout=0.05)
        time.sleep(0.1)
        answers["expired"] = store.add("old", {"v": 4})
        answers["replaced"] = store.get("old")

    worker = threading.Thread(target=adds, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "add hung on the store's own lock"
    assert answers == {"fresh": True, "taken": False, "kept": {"v": 1}, "expired": True, "replaced": {"v": 4}}


def test_of_concurrent_adds_to_one_key_exactly_one_wins(tmp_path):
    import concurrent.futures

    store = FileStore(cache.private_directory(tmp_path / "cache"), max_bytes=10 * 2**20)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: store.add("once", {"writer": i}), range(16)))
    assert won.count(True) == 1
    assert store.get("once") == {"writer": won.index(True)}


# --- bounded size, least recently used out ----------------------------------------------------

def test_the_least_recently_used_entries_go_first_and_the_cap_holds(tmp_path):
    import time

    store = FileStore(cache.private_directory(tmp_path / "cache"), max_bytes=4 * 12288 + 100)
    blob = os.urandom(12_000)  # 3 blocks of 4 KB each on disk: 4 entries fit
    for i in range(6):
        assert store.set(f"k{i}", {"i": i, "blob": blob})
        time.sleep(0.02)  # distinct mtimes on coarse file systems
    assert store.usage()[1] <= store.max_bytes
    alive = [i for i in range(6) if store.get(f"k{i}") is not None]
    assert alive == list(range(6 - len(alive), 6)) and 2 <= len(alive) < 6  # the oldest went
    oldest = alive[0]
    assert store.get(f"k{oldest}")["i"] == oldest  # read now: it is the most recently used
    time.sleep(0.02)
    assert store.set("new", {"blob": blob})
    assert store.get(f"k{oldest}") is not None and store.get(f"k{alive[1]}") is None
    assert not store.set("huge", {"blob": os.urandom(store.max_bytes)})  # larger than the cap: refused
    assert store.get("new") is not None  # ... without evicting everything for it


WRITER = """
import os, random, sys, time
from services.file_store import FileStore
directory, cap, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = FileStore(directory, cap)
rng = random.Random(writer)
worst = refused = 0
for i in range(count):
    refused += not store.set(f"w{writer}-{i}", {"blob": os.urandom(rng.randint(1_000, 60_000))})
    if rng.random() < 0.3:
        store.get(f"w{writer}-{rng.randrange(i + 1)}")
    with store.locked():  # every change happens under this lock: this is an exact snapshot
        worst = max(worst, store.usage()[1])
print(worst, refused)
"""


def test_four_concurrent_writer_processes_never_leave_the_store_above_the_cap(tmp_path):
    directory = cache.private_directory(tmp_path / "cache")
    cap, count = 1_000_000, 150  # 4 x 150 values of ~30 KB: ~18 MB written into 1 MB
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(cap), str(w), str(count)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for w in range(4)]
    worst = []
    for process in writers:
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0
        high, refused = map(int, out.split()[-2:])
        assert refused == 0  # every value fits: every write was stored (older ones made room)
        worst.append(high)
    store = FileStore(directory, cap)
    entries, used = store.usage()
    assert max(worst) <= cap and used <= cap, (worst, used)
    assert 10 < entries < 4 * count  # it really evicted, and kept what fits
    assert not list(directory.glob(".tmp-*"))  # no half-written files left behind
