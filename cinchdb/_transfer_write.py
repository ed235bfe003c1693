"""Writing rows for an export: CSV, a JSON array or NDJSON, chunk by chunk.

Values are written so that an import reads them back as they were: NULL is an empty CSV field
(``null`` in JSON), BOOLEAN columns are ``true``/``false``, BLOBs are base64 text, floats are
written with all their digits (Python's ``repr``), integers of any size exactly. Memory stays
constant: each chunk of rows is encoded and written before the next one is fetched.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol

__all__ = ["Sink", "write_rows"]

Chunk = list[tuple[object, ...]]


class Sink(Protocol):
    """Where an export writes: a text file (opened with ``newline=""``)."""

    def write(self, text: str, /) -> object: ...


def _base64(value: object) -> object:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _csv_boolean(value: object) -> object:
    return value if value is None else ("true" if value else "false")


def _json_boolean(value: object) -> object:
    return value if value is None else bool(value)


def _encoded(chunk: Chunk, booleans: Collection[int], boolean: Callable[[object], object]) -> Chunk:
    """The chunk with BOOLEAN columns as ``boolean`` makes them and bytes as base64.

    Works column by column: finding the types in a column is one C-speed pass, and most
    columns need nothing, so a row is not visited in Python at all.
    """
    columns = list(zip(*chunk, strict=True))
    changed = False
    for j, column in enumerate(columns):
        if j in booleans:
            columns[j] = tuple(map(boolean, column))
            changed = True
        elif bytes in set(map(type, column)):
            columns[j] = tuple(map(_base64, column))
            changed = True
    return list(zip(*columns, strict=True)) if changed else chunk


_encode = json.JSONEncoder(ensure_ascii=False).encode


def _csv(columns: Sequence[str], flags: frozenset[int], chunks: Iterable[Chunk], out: Sink) -> int:
    count = 0
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for chunk in chunks:
        writer.writerows(_encoded(chunk, flags, _csv_boolean))
        count += len(chunk)
    return count


def _ndjson(
    columns: Sequence[str], flags: frozenset[int], chunks: Iterable[Chunk], out: Sink
) -> int:
    count = 0
    for chunk in chunks:
        rows = _encoded(chunk, flags, _json_boolean)
        out.write("".join([_encode(dict(zip(columns, row, strict=True))) + "\n" for row in rows]))
        count += len(chunk)
    return count


def _json(columns: Sequence[str], flags: frozenset[int], chunks: Iterable[Chunk], out: Sink) -> int:
    count = 0
    separator = "[\n"
    for chunk in chunks:
        rows = _encoded(chunk, flags, _json_boolean)
        out.write(
            separator + ",\n".join([_encode(dict(zip(columns, r, strict=True))) for r in rows])
        )
        separator = ",\n"
        count += len(chunk)
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


_WRITERS: dict[str, Callable[[Sequence[str], frozenset[int], Iterable[Chunk], Sink], int]] = {
    "csv": _csv,
    "ndjson": _ndjson,
    "json": _json,
}


def write_rows(
    fmt: str,
    columns: Sequence[str],
    booleans: Sequence[int],
    chunks: Iterable[Chunk],
    out: Sink,
) -> int:
    """Write the rows of ``chunks`` (tuples in ``columns`` order) to ``out`` in format ``fmt``
    (one of ``cinchdb.transfer.FORMATS``); return how many. ``booleans`` are the positions of
    BOOLEAN columns (stored as 0/1)."""
    return _WRITERS[fmt](list(columns), frozenset(booleans), chunks, out)
