"""Your own data for /train: a CSV file or points drawn on the 2-D canvas, validated.

No Dash here. Nothing from an upload is ever executed or unpickled: a file is read with the
``csv`` module into Python strings, and every feature cell goes through ``float()`` alone.

The CSV format
--------------
* 2 or 3 numeric feature columns, then one label column (the last column);
* an optional header row: the first row is a header when none of its feature cells is a
  number (a row where some are and some are not is an error, not a header);
* fields may be quoted (``"1.5","-2","cat"``); comma-separated, or tab- or semicolon-
  separated when the first line has no comma; blank lines are skipped;
* labels may be numbers or any text: classes are the distinct labels in sorted order
  (numerically when every label is a number, else as text), numbered 0, 1, ...;
* at most :data:`MAX_BYTES` bytes and :data:`MAX_ROWS` data rows, finite numbers only,
  2 to :data:`MAX_CLASSES` classes with at least :data:`MIN_PER_CLASS` points each (one for
  training and one for testing).

The first problem found raises :class:`UserDataError`, whose message names the row (the
file's line number) and the column (number and header name).

A :class:`UserData` is identified by :attr:`UserData.content_hash`, 40 hexadecimal digits of
SHA-1 over its canonical content (dimension, float32 coordinates, labels, class and column
names), so the same data gets the same hash whichever way it came in.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass

import numpy as np

MAX_BYTES = 2_000_000  # about 20,000 rows of four 20-character fields, with room to spare
MAX_ROWS = 20_000
MAX_CLASSES = 10
MIN_CLASSES = 2
MIN_PER_CLASS = 2
FEATURE_COUNTS = (2, 3)
MAX_LABEL_CHARS = 40  # a class name is shown on the page; longer labels are refused
HASH_PATTERN = r"[0-9a-f]{40}"
DRAW_RANGE = 1.2  # the drawing canvas spans [-DRAW_RANGE, DRAW_RANGE]^2

_DELIMITERS = (",", "\t", ";")
F32_MAX = float(np.finfo(np.float32).max)
NOT_FINITE = "is not a finite number (NaN and infinity are not allowed; |x| must be below 3.4e38)"


class UserDataError(ValueError):
    """Bad uploaded or drawn data; the message says what and where, in words."""


@dataclass(frozen=True)
class UserData:
    """Validated data: ``X`` float32 (n, d) with d in (2, 3), ``y`` int64 (n,) indexing
    ``classes`` (their names), ``columns`` the feature columns' names, ``origin`` "upload"
    or "drawn" (shown in words; not part of the hash)."""

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    columns: tuple[str, ...]
    origin: str = "upload"

    @property
    def n(self) -> int:
        return int(len(self.y))

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def class_counts(self) -> list[int]:
        return [int(c) for c in np.bincount(self.y, minlength=len(self.classes))]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha1()
        digest.update(json.dumps({"dim": self.dim, "classes": list(self.classes), "columns": list(self.columns)},
                                 sort_keys=True).encode())
        digest.update(np.ascontiguousarray(self.X, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype="<i8").tobytes())
        return digest.hexdigest()

    def training_problem(self) -> str | None:
        """Why this data cannot be trained on yet (in words), or None. A drawing in progress
        may have one class or a class with a single point; an upload never does."""
        if self.n == 0:
            return "There are no points yet: click the data figure to add some."
        if len(self.classes) < MIN_CLASSES:
            return (f"All {self.n} points are in one class ({self.classes[0]}); training needs {MIN_CLASSES} to "
                    f"{MAX_CLASSES} classes.")
        for name, count in zip(self.classes, self.class_counts):
            if count < MIN_PER_CLASS:
                return (f"Class {name} has {count} point; every class needs at least {MIN_PER_CLASS} (one to "
                        f"train on, one to test on).")
        return None

    def describe(self) -> str:
        """One line about the data, for the page."""
        counts = ", ".join(f"{name}: {count:,}" for name, count in zip(self.classes, self.class_counts))
        what = "points, some or all drawn" if self.origin == "drawn" else "uploaded points"
        return f"{self.n:,} {what}, {self.dim} features, {len(self.classes)} classes ({counts})."

    # -- plain data (the cache never holds pickled objects) ----------------------------------
    def to_dict(self) -> dict:
        return {"format": "polyviz-user-data-1", "X": np.ascontiguousarray(self.X, dtype="<f4").tobytes(),
                "y": np.ascontiguousarray(self.y, dtype="<i8").tobytes(), "dim": self.dim,
                "classes": list(self.classes), "columns": list(self.columns), "origin": self.origin}

    @classmethod
    def from_dict(cls, data) -> "UserData":
        if not isinstance(data, dict) or data.get("format") != "polyviz-user-data-1":
            raise ValueError("not a polyviz-user-data-1 record")
        try:
            dim = int(data["dim"])
            X = np.frombuffer(bytes(data["X"]), dtype="<f4").astype(np.float32).reshape(-1, dim)
            y = np.frombuffer(bytes(data["y"]), dtype="<i8").astype(np.int64)
            return make_user_data(X, y, tuple(str(c) for c in data["classes"]),
                                  tuple(str(c) for c in data["columns"]), origin=str(data["origin"]), strict=False)
        except UserDataError:
            raise
        except Exception as error:
            raise ValueError(f"damaged user-data record ({type(error).__name__}: {error})") from None

    def to_csv(self) -> str:
        """The data as a CSV file that :func:`parse_csv` reads back to the same data."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*self.columns, "label"])
        for row, label in zip(self.X.tolist(), self.y.tolist()):
            writer.writerow([*(repr(float(np.float32(v))) for v in row), self.classes[label]])
        return out.getvalue()


def make_user_data(X, y, classes, columns, origin: str = "upload", strict: bool = True) -> UserData:
    """A checked :class:`UserData` from arrays. Unused classes are dropped and the rest
    renumbered in sorted order (as :func:`parse_csv` numbers them). ``strict`` (uploads): the data must be trainable as it is."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32).reshape(len(y), -1))
    y = np.asarray(y, dtype=np.int64)
    if X.shape[1] not in FEATURE_COUNTS:
        raise UserDataError(f"the data has {X.shape[1]} feature columns; allowed: 2 or 3")
    if len(y) > MAX_ROWS:
        raise UserDataError(f"the data has {len(y):,} points; at most {MAX_ROWS:,} are allowed")
    if not np.isfinite(X).all():
        raise UserDataError("every coordinate must be a finite number")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise UserDataError("a label is not one of the classes")
    # the used classes in the CSV convention's order, so the same data always hashes the same
    used = sorted(set(y.tolist()), key=lambda i: class_sort_key(classes, i))
    if len(used) > MAX_CLASSES:
        raise UserDataError(f"the data has {len(used)} classes; allowed: {MIN_CLASSES} to {MAX_CLASSES}")
    if len(set(classes[i] for i in used)) != len(used):
        raise UserDataError("two classes have the same name")
    renumber = np.zeros(max(len(classes), 1), np.int64)
    renumber[used] = np.arange(len(used))
    data = UserData(X=X, y=renumber[y] if len(y) else y, classes=tuple(classes[i] for i in used),
                    columns=tuple(columns), origin=origin)
    if strict and (problem := data.training_problem()):
        raise UserDataError(problem)
    return data


# ------------------------------------------------------------------------------------------
# CSV files
# ------------------------------------------------------------------------------------------
def decode_upload(contents, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes from a ``dcc.Upload`` value (``data:<type>;base64,<data>``), size
    checked (at most ``max_bytes``) before decoding."""
    if not isinstance(contents, str) or "," not in contents:
        raise UserDataError("the upload could not be read: expected a file's contents")
    head, _, body = contents.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        raise UserDataError("the upload could not be read: expected a base64-encoded file")
    if len(body) * 3 // 4 > max_bytes + 3:
        raise UserDataError(f"the file is about {len(body) * 3 // 4:,} bytes; at most {max_bytes:,} are allowed")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise UserDataError("the upload could not be read: its base64 encoding is damaged") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _column_name(index: int, header: list[str] | None) -> str:
    name = f"column {index + 1}"
    if header is not None and header[index].strip():
        name += f" ({header[index].strip()[:MAX_LABEL_CHARS]!r})"
    return name


def parse_csv(data: bytes | str) -> UserData:
    """Parse and validate a CSV file (see the module docstring). Raises UserDataError with
    the row and column of the first problem."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise UserDataError(f"the file is {len(data):,} bytes; at most {MAX_BYTES:,} are allowed")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[:error.start].count(b"\n") + 1
            raise UserDataError(f"row {line}: the file is not UTF-8 text (a CSV file is expected)") from None
    else:
        text = data.removeprefix("\ufeff")
        if len(text.encode()) > MAX_BYTES:
            raise UserDataError(f"the file is more than {MAX_BYTES:,} bytes; at most {MAX_BYTES:,} are allowed")
    if "\x00" in text:
        raise UserDataError(f"row {text[:text.index(chr(0))].count(chr(10)) + 1}: the file holds NUL bytes "
                            f"(a binary file, not CSV)")
    first_line = text.split("\n", 1)[0]
    delimiter = next((d for d in _DELIMITERS if d in first_line), ",")
    rows, lines = _read_rows(text, delimiter)
    if not rows:
        raise UserDataError("the file has no data rows")
    width, header = len(rows[0]), None
    if width - 1 not in FEATURE_COUNTS:
        raise UserDataError(f"row {lines[0]}: {width} columns; expected 3 or 4 (2 or 3 numeric feature columns, then "
                            f"the label column)")
    if not any(_is_number(cell.strip()) for cell in rows[0][:-1]):
        header, rows, lines = [cell.strip() for cell in rows[0]], rows[1:], lines[1:]
    if not rows:
        raise UserDataError("the file has no data rows" + (" (only a header)" if header else ""))
    if len(rows) > MAX_ROWS:
        raise UserDataError(f"row {lines[MAX_ROWS]}: more than {MAX_ROWS:,} data rows; at most {MAX_ROWS:,} are "
                            f"allowed")
    if len(set(map(len, rows))) > 1:
        ragged = next(i for i, cells in enumerate(rows) if len(cells) != width)
        raise UserDataError(f"row {lines[ragged]}: {len(rows[ragged])} columns; every row needs {width}, like the "
                            f"first")
    # Whole columns at once (NumPy parses each cell as float() does); on a failure the slow
    # path names the first cell that is not a number.
    cells_array = np.array(rows, dtype=str)
    try:
        X = cells_array[:, :-1].astype(np.float64)
    except ValueError:
        for cells, row in zip(rows, lines):
            error = _cell_error(cells, row, header)
            if error is not None:
                raise error from None
        raise UserDataError("a feature cell is not a number") from None
    bad = ~(np.abs(X) <= F32_MAX)  # NaN, infinity, or too big for float32
    if bad.any():
        first, column = map(int, np.argwhere(bad)[0])  # row-major: the first row, then its first column
        raise UserDataError(f"row {lines[first]}, {_column_name(column, header)}: "
                            f"{rows[first][column].strip()[:MAX_LABEL_CHARS]!r} {NOT_FINITE}")
    labels = np.strings.strip(cells_array[:, -1])
    lengths = np.strings.str_len(labels)
    bad = np.flatnonzero((lengths == 0) | (lengths > MAX_LABEL_CHARS))
    if len(bad):
        what = "missing label" if lengths[bad[0]] == 0 else f"the label is longer than {MAX_LABEL_CHARS} characters"
        raise UserDataError(f"row {lines[bad[0]]}, {_column_name(width - 1, header)}: {what}")
    label_rows = lines
    classes, y = _classes(labels, label_rows, width - 1, header)
    columns = tuple(header[:-1]) if header else tuple(f"x{i + 1}" for i in range(width - 1))
    columns = tuple((c or f"x{i + 1}")[:MAX_LABEL_CHARS] for i, c in enumerate(columns))
    return make_user_data(X.astype(np.float32), y, classes, columns, origin="upload")


def _read_rows(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a CSV text and the line each ends on (a quoted field may span
    lines). The csv module reads at C speed; rows are only walked in Python when needed."""
    def reader():
        return csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', strict=True)

    lines_read = reader()
    try:
        rows = list(lines_read)
        if lines_read.line_num == len(rows):  # one row per line (the usual case): row i is line i + 1
            lines = list(range(1, len(rows) + 1))
        else:  # a quoted field spans lines: ask the reader where each row ends
            lines_read, rows, lines = reader(), [], []
            for cells in lines_read:
                rows.append(cells)
                lines.append(lines_read.line_num)
    except csv.Error as error:
        raise UserDataError(f"row {lines_read.line_num}: the CSV is malformed ({error})") from None
    if [] in rows or 1 in set(map(len, rows)):  # blank (or whitespace-only) lines are skipped
        keep = [i for i, cells in enumerate(rows) if len(cells) > 1 or (cells and cells[0].strip())]
        rows, lines = [rows[i] for i in keep], [lines[i] for i in keep]
    return rows, lines


def _cell_error(cells: list[str], row: int, header) -> UserDataError | None:
    """The error of the first feature cell of a row that is not a finite number (None: all
    are)."""
    for index, cell in enumerate(cells[:-1]):
        cell = cell.strip()
        where = f"row {row}, {_column_name(index, header)}"
        if not cell:
            return UserDataError(f"{where}: missing value (every feature cell needs a number)")
        if not _is_number(cell):
            return UserDataError(f"{where}: {cell[:MAX_LABEL_CHARS]!r} is not a number")
        if not abs(float(cell)) <= F32_MAX:
            return UserDataError(f"{where}: {cell[:MAX_LABEL_CHARS]!r} {NOT_FINITE}")
    return None


def _classes(labels: np.ndarray, rows: list[int], label_index: int, header) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names in sorted order and each row's class index. Numbers sort as numbers
    ("2" before "10"; "1" and "1.0" are the same class)."""
    texts, first_seen, inverse = np.unique(labels, return_index=True, return_inverse=True)
    texts = [str(t) for t in texts]
    numeric = all(_is_number(t) and math.isfinite(float(t)) for t in texts)
    keys = [float(t) for t in texts] if numeric else texts
    distinct = sorted(set(keys))
    index = {key: i for i, key in enumerate(distinct)}
    text_to_class = np.array([index[key] for key in keys], dtype=np.int64)
    y = text_to_class[inverse.ravel()]
    where = _column_name(label_index, header)
    if len(distinct) > MAX_CLASSES:
        # the row where the (MAX_CLASSES + 1)-th distinct label first appears
        first = np.full(len(distinct), len(y))
        np.minimum.at(first, text_to_class, first_seen)
        row = rows[int(np.sort(first)[MAX_CLASSES])]
        raise UserDataError(f"row {row}, {where}: an {MAX_CLASSES + 1}th class; allowed: {MIN_CLASSES} to "
                            f"{MAX_CLASSES} classes")
    if len(distinct) < MIN_CLASSES:
        raise UserDataError(f"{where}: every row has the label {str(labels[0])!r}, so there is one class; "
                            f"allowed: {MIN_CLASSES} to {MAX_CLASSES} classes")
    counts = np.bincount(y, minlength=len(distinct))
    for i, key in enumerate(distinct):
        if counts[i] < MIN_PER_CLASS:
            row = rows[int(np.flatnonzero(y == i)[0])]
            raise UserDataError(f"row {row}, {where}: class {_name(key)} has {int(counts[i])} point; every class "
                                f"needs at least {MIN_PER_CLASS} (one to train on, one to test on)")
    return tuple(_name(key) for key in distinct), y


def class_sort_key(classes, index: int):
    """Numbers before text, numbers by value: the order :func:`parse_csv` gives classes."""
    name = classes[index]
    return (0, float(name), "") if _is_number(name) and math.isfinite(float(name)) else (1, 0.0, name)


def _name(key) -> str:
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() and abs(key) < 1e15 else repr(key)
    return key


# ------------------------------------------------------------------------------------------
# drawn points
# ------------------------------------------------------------------------------------------
def add_point(base: UserData | None, x, y, label: str) -> UserData:
    """``base`` (None: an empty canvas) with one more point of the class named ``label`` (a
    new name makes a new class). A drawing in progress need not be trainable (see
    :meth:`UserData.training_problem`)."""
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserDataError(f"the clicked point's {name} = {str(value)[:40]!r} is not a finite number")
        if abs(value) > 1e6:
            raise UserDataError(f"the clicked point's {name} = {value:g} is out of range (allowed: -1e6 to 1e6)")
    if not isinstance(label, str) or not 0 < len(label.strip()) <= MAX_LABEL_CHARS:
        raise UserDataError(f"class = {str(label)[:40]!r} is not allowed (a class name of 1 to {MAX_LABEL_CHARS} "
                            f"characters)")
    label = label.strip()
    if base is None:
        base = UserData(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), (), ("x1", "x2"), origin="drawn")
    if base.dim != 2:
        raise UserDataError("points can be drawn on 2-D data only; this data has 3 features")
    if base.n >= MAX_ROWS:
        raise UserDataError(f"the data already has {MAX_ROWS:,} points, the most allowed")
    names = list(base.classes)
    if label not in names:
        if len(names) >= MAX_CLASSES:
            raise UserDataError(f"class = {label!r} would be an {MAX_CLASSES + 1}th class; allowed: {MIN_CLASSES} "
                                f"to {MAX_CLASSES} classes")
        names.append(label)
    X = np.concatenate([base.X, np.array([[x, y]], np.float32)])
    labels = np.concatenate([base.y, np.array([names.index(label)], np.int64)])
    return make_user_data(X, labels, tuple(names), base.columns, origin="drawn", strict=False)


def is_hash(value) -> bool:
    return isinstance(value, str) and re.fullmatch(HASH_PATTERN, value) is not None
