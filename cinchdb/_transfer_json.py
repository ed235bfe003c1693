"""Reading NDJSON and JSON arrays for an import (see ``cinchdb._transfer_read``).

A JSON array is read element by element through a window on the stream, so a large file is
not held in memory whole; NDJSON a block of lines at a time.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import islice, repeat
from json.scanner import make_scanner
from operator import itemgetter
from typing import Any

from cinchdb._transfer_read import BLOCK, Columns, Row, TextSource, short
from cinchdb.errors import ImportRowError
from journal.names import fold_name

__all__ = ["json_rows", "ndjson_rows"]

# Characters read at a time from a JSON array; an element larger than this is read in more.
_CHUNK = 1 << 20
# A JSON array element that is still not valid after this many characters is reported as it
# is, rather than reading the rest of the file in search of its end.
_MAX_ELEMENT = 64 << 20
_NON_SPACE = re.compile(r"\S")
# Scans one JSON value at an index: (value, end). The C scanner when the json module has it.
# (typeshed types make_scanner's argument as the scanner class itself, not the decoder.)
_SCAN: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _decode_blobs(row: Row, columns: Columns, source: str, where: str) -> None:
    """Base64 strings of BLOB columns, as bytes (in place)."""
    for key, value in row.items():
        if isinstance(value, str) and fold_name(key) in columns.blobs:
            try:
                row[key] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ImportRowError(
                    source, where, f"{short(value)!r} is not base64 (a BLOB column's values)",
                    column=columns.names[fold_name(key)],
                ) from None  # fmt: skip


def ndjson_rows(
    text: TextSource, columns: Columns, source: str
) -> Iterator[tuple[Sequence[int], list[Row]]]:
    lines = iter(text)
    first = 1
    while lines_block := list(islice(lines, BLOCK)):
        rows = _scan_block(lines_block)
        places: Sequence[int]
        if rows is None:
            rows, places = _ndjson_slowly(lines_block, first, source)
        else:
            places = range(first, first + len(rows))
        if set(map(type, rows)) != {dict}:
            for row, number in zip(rows, places, strict=True):
                if type(row) is not dict:
                    raise ImportRowError(source, f"line {number}", "is not a JSON object")
        if columns.blobs:
            for row, number in zip(rows, places, strict=True):
                _decode_blobs(row, columns, source, f"line {number}")
        first += len(lines_block)
        yield places, rows


def _scan_block(lines: list[str]) -> list[Row] | None:
    """The values of well-formed lines, or None to read the block line by line.

    The json module's C scanner, mapped over the block, skips ``json.loads``'s Python wrapper
    per line (45 % of the parse time). It stops at a value's end: a line is well formed when
    that end is where the line's text ends. A failure (a blank line, leading space, an
    error) raises StopIteration, which ends map() early, or JSONDecodeError.
    """
    try:
        scanned = list(map(_SCAN, lines, repeat(0)))
    except json.JSONDecodeError:
        return None
    if len(scanned) != len(lines):
        return None
    if list(map(itemgetter(1), scanned)) != list(map(len, map(str.rstrip, lines))):
        return None
    return list(map(itemgetter(0), scanned))


def _ndjson_slowly(lines: list[str], first: int, source: str) -> tuple[list[Row], list[int]]:
    """A block with a blank or a bad line: line by line, skipping blanks."""
    rows: list[Row] = []
    places: list[int] = []
    for number, line in enumerate(lines, first):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            if not line.strip():
                continue
            raise ImportRowError(
                source, f"line {number}", f"is not valid JSON ({error.msg})"
            ) from None
        places.append(number)
    return rows, places


class _Buffer:
    """A window on a text stream for reading a JSON array element by element."""

    def __init__(self, text: TextSource) -> None:
        self.text = text
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-space character ("" at the end), with ``pos`` on it."""
        while True:
            match = _NON_SPACE.search(self.buf, self.pos)
            if match:
                self.pos = match.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self.more():
                return ""


def json_rows(
    text: TextSource, columns: Columns, source: str
) -> Iterator[tuple[Sequence[int], list[Row]]]:
    elements = _jsonelement_places(text, columns, source)
    index = 0
    while rows := list(islice(elements, BLOCK)):
        yield range(index, index + len(rows)), rows
        index += len(rows)


def _jsonelement_places(text: TextSource, columns: Columns, source: str) -> Iterator[Row]:
    decode = json.JSONDecoder().raw_decode
    blobs = bool(columns.blobs)
    window = _Buffer(text)
    first = window.peek()
    if first != "[":
        found = f"starts with {first!r}" if first else "is empty"
        raise ImportRowError(source, "line 1", f"is not a JSON array (it {found})")
    window.pos += 1
    index = 0
    ch = window.peek()
    while ch != "]":
        where = f"element [{index}]"
        if ch != "{":
            found = "the end of the input" if not ch else repr(ch)
            raise ImportRowError(source, where, f"is not a JSON object (found {found})")
        while True:
            try:
                row, end = decode(window.buf, window.pos)
                break
            except json.JSONDecodeError as error:
                if len(window.buf) - window.pos > _MAX_ELEMENT or not window.more():
                    raise ImportRowError(
                        source, where, f"is not valid JSON ({error.msg})"
                    ) from None
        window.pos = end
        if blobs:
            _decode_blobs(row, columns, source, where)
        yield row
        index += 1
        ch = window.peek()
        if ch == ",":
            window.pos += 1
            ch = window.peek()
            if ch == "]":
                raise ImportRowError(source, f"element [{index}]", "is missing (a trailing ',')")
        elif ch != "]":
            found = "the end of the input" if not ch else repr(ch)
            raise ImportRowError(
                source, f"element [{index - 1}]", f"is followed by {found}, not ',' or ']'"
            )
    window.pos += 1
    if window.peek():
        raise ImportRowError(source, f"element [{index - 1}]", "is followed by text after the ']'")
