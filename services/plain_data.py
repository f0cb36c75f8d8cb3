"""The one encoding of cache values: plain data (JSON) plus raw byte strings, never pickle.

Both cache backends (the embedded file store and Redis) store values as :func:`dumps` gives
them and read them back with :func:`loads`, so nothing found in the cache directory or in
Redis is ever unpickled: a value that is not in this format is a miss, not code to run.

Allowed values: None, bool, int, float (NaN and infinities included), str, bytes, lists
(tuples become lists) and dicts with str keys of these. Bytes travel next to the JSON, not
inside it (safetensors weights and float32 curves stay compact), as::

    MAGIC | u32 length of the JSON header | header {"v": tree, "b": [blob lengths]} | blobs

where the i-th byte string in the tree is written as ``{"\\u0000bytes": i}``.
"""

from __future__ import annotations

import json
import struct

MAGIC = b"PVZ\x01"
BYTES_TAG = "\x00bytes"  # a dict key no record uses (refused in values, so never ambiguous)
_HEADER = struct.Struct("<I")


class NotPlainData(TypeError):
    """A value the cache cannot store: only JSON-able data and bytes are allowed."""


def dumps(value) -> bytes:
    blobs: list[bytes] = []
    tree = _encode(value, blobs, "value")
    header = json.dumps({"v": tree, "b": [len(b) for b in blobs]}, separators=(",", ":"),
                        allow_nan=True).encode()
    return b"".join([MAGIC, _HEADER.pack(len(header)), header, *blobs])


def _encode(value, blobs: list[bytes], where: str):
    # bool before int (bool is an int); subclasses (numpy floats) become the plain type
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        blobs.append(bytes(value))
        return {BYTES_TAG: len(blobs) - 1}
    if isinstance(value, (list, tuple)):
        return [_encode(item, blobs, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key == BYTES_TAG:
                raise NotPlainData(f"{where} has the key {key!r}: cache keys of a dict must be plain strings")
            out[key] = _encode(item, blobs, f"{where}[{key!r}]")
        return out
    raise NotPlainData(f"{where} is a {type(value).__name__}: the cache stores only JSON-able data and bytes")


def loads(data: bytes):
    """The value :func:`dumps` wrote; ValueError for anything else (a planted or damaged file)."""
    data = bytes(data)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HEADER.size:
        raise ValueError("not a polyviz plain-data value")
    (length,) = _HEADER.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _HEADER.size
    try:
        header = json.loads(data[start:start + length])
        sizes = header["b"]
        tree = header["v"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("damaged plain-data header") from None
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ValueError("damaged plain-data header")
    offset, blobs = start + length, []
    for n in sizes:
        blobs.append(data[offset:offset + n])
        offset += n
    if offset != len(data):
        raise ValueError("damaged plain-data value: its byte strings do not add up")
    return _decode(tree, blobs)


def _decode(tree, blobs: list[bytes]):
    if isinstance(tree, list):
        return [_decode(item, blobs) for item in tree]
    if isinstance(tree, dict):
        if len(tree) == 1 and BYTES_TAG in tree:
            index = tree[BYTES_TAG]
            if not isinstance(index, int) or not 0 <= index < len(blobs):
                raise ValueError("damaged plain-data value: a byte string that is not there")
            return blobs[index]
        return {key: _decode(item, blobs) for key, item in tree.items()}
    return tree
