"""Uploaded and drawn data in the shared cache, by content hash (never by a user's file
name), like a trained run: ``/train?data=<hash>&...`` reopens it in any worker that shares
the cache, for as long as the cache keeps it.

The cache holds :meth:`polyviz.userdata.UserData.to_dict`'s plain data (bytes, strings,
numbers), never a pickled object; a record whose content does not hash to its key is a miss.
"""

from __future__ import annotations

from polyviz.userdata import UserData, is_hash
from services import cache

NAMESPACE = "user-data"


def data_key(content_hash: str) -> str:
    return f"{cache.CACHE_VERSION}:{NAMESPACE}:{content_hash}"


def store_data(data: UserData, required: bool = True) -> str:
    """Keep ``data`` in the cache; returns its content hash (the link's ``data`` value)."""
    content_hash = data.content_hash
    cache.cache_set(data_key(content_hash), data.to_dict(), required=required)
    return content_hash


def load_data(content_hash, required: bool = False) -> UserData | None:
    """The data stored under a content hash; None when the value is not a hash, the cache no
    longer holds it, or the record is damaged. ``required``: raise CacheUnavailable when
    the cache is down instead of answering None."""
    if not is_hash(content_hash):
        return None
    record = cache.cache_get(data_key(content_hash), required=required)
    if record is None:
        return None
    try:
        data = UserData.from_dict(record)
    except ValueError:
        return None
    return data if data.content_hash == content_hash else None
