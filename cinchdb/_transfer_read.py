"""Reading rows for an import: the reader, the columns' converters, and CSV (JSON and NDJSON
are in ``cinchdb._transfer_json``).

Each reader is an iterable of row dicts that ``CinchDB.insert_many`` consumes in one
transaction, and remembers where each row came from (:meth:`RowReader.where`), so an error
about row 41,207 names its line. A malformed row, or a CSV field its column cannot take, is
raised here as :class:`~cinchdb.errors.ImportRowError` while the rows are read.

Values. JSON and NDJSON values are used as JSON gives them (numbers, strings, true/false,
null), except in BLOB columns, where a string is base64 (what an export writes). CSV fields are
text, converted once per field by a converter chosen once per column from the type the column
checks values as (``cinchdb._values.kind_of``): BOOLEAN takes true/false/1/0 (any case),
INTEGER an integer, REAL and NUMERIC a number (a date or time type also text, as written),
BLOB base64, and TEXT or a column without a type the text itself. An empty field is NULL in
every column: CSV cannot tell an empty string from a missing value (JSON and NDJSON can).
"""

from __future__ import annotations

import base64
import binascii
import csv
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING, Protocol

from cinchdb._values import ColumnCheck, column_checks
from cinchdb.errors import ImportRowError
from journal.names import fold_name

if TYPE_CHECKING:  # a type only: the definition models are pydantic, costly to import
    from journal.definitions import TableDef

__all__ = [
    "BLOCK",
    "FORMATS",
    "Columns",
    "Progress",
    "Row",
    "RowReader",
    "TextSource",
    "csv_rows",
    "element_place",
    "line_place",
    "short",
    "sniff",
]

#: The formats of an import or export.
FORMATS = ("csv", "json", "ndjson")
#: Called as ``progress(bytes_read, total_bytes)`` while an import reads a file.
Progress = Callable[[int, int], None]

Row = dict[str, object]
Convert = Callable[[str], object]

# Rows read and converted at a time (and between two progress reports).
BLOCK = 2048
# Where the last this-many rows came from; insert_many reports a row of the batch it is
# writing, far fewer rows back than this.
_BOOK_SIZE = 1 << 17
_NON_SPACE = re.compile(r"\S")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


class TextSource(Protocol):
    """What a reader reads: a text file (opened with ``newline=""`` for CSV)."""

    def read(self, size: int = -1, /) -> str: ...
    def readline(self, size: int = -1, /) -> str: ...
    def __iter__(self) -> Iterator[str]: ...


class RowReader:
    """The rows of one input, as dicts keyed by column name, read lazily, a block at a time.

    Args:
        blocks: the format's generator of (places, rows) blocks, a place per row.
        source: the input's name in messages.
        tell: the bytes read so far (None: unknown), for ``progress``.
        total: the input's size in bytes (None: unknown).
        progress: called as ``progress(bytes_read, total)`` after each block.
        describe: a row's place in messages (default "line N").
    """

    def __init__(
        self,
        blocks: Iterator[tuple[Sequence[int], list[Row]]],
        source: str,
        *,
        tell: Callable[[], int] | None = None,
        total: int | None = None,
        progress: Progress | None = None,
        describe: Callable[[int], str] | None = None,
    ) -> None:
        self.source = source
        #: Rows read so far (a block may be read before insert_many takes its rows).
        self.count = 0
        self._blocks = blocks
        self._places: deque[int] = deque(maxlen=_BOOK_SIZE)
        self._tell = tell
        self._total = total
        self._progress = progress if tell is not None and total is not None else None
        self._describe = describe or line_place

    def __iter__(self) -> Iterator[Row]:
        # Rows are handed over by chain() at C speed; Python runs once per block.
        return chain.from_iterable(self._read())

    def _read(self) -> Iterator[list[Row]]:
        places = self._places
        progress = self._progress
        blocks = self._blocks
        while True:
            try:
                block_places, rows = next(blocks)
            except StopIteration:
                break
            except UnicodeDecodeError as error:
                # A file in another encoding: text is decoded in chunks, so the place is only
                # known as after the last rows read.
                raise ImportRowError(
                    self.source,
                    f"after {self._describe(places[-1])}" if places else "in its first rows",
                    f"is not UTF-8 text (byte {error.object[error.start]:#04x}); save the file"
                    " as UTF-8",
                ) from None
            places.extend(block_places)
            self.count += len(rows)
            if progress is not None and self._tell is not None:
                progress(self._tell(), self._total or 0)
            yield rows
        if progress is not None:
            progress(self._total or 0, self._total or 0)

    def where(self, index: int) -> str:
        """Where row ``index`` (0-based, in reading order) came from: "line 7", "element [6]",
        or "row 7" when it is too far back to be remembered."""
        offset = index - (self.count - len(self._places))
        if 0 <= offset < len(self._places):
            return self._describe(self._places[offset])
        return f"row {index + 1}"


def line_place(number: int) -> str:
    return f"line {number}"


def element_place(number: int) -> str:
    return f"element [{number}]"


def sniff(text: TextSource) -> tuple[str, TextSource]:
    """The format of an input without a name, from its first non-space character (``[``: a
    JSON array, ``{``: NDJSON, anything else: CSV), and the input to read it from (the lines
    looked at, then the rest)."""
    seen: list[str] = []
    while True:
        line = text.readline()
        if not line:
            break
        seen.append(line)
        match = _NON_SPACE.search(line)
        if match:
            first = match.group()
            fmt = "json" if first == "[" else "ndjson" if first == "{" else "csv"
            return fmt, _Prefixed(seen, text)
    return "csv", _Prefixed(seen, text)


class _Prefixed:
    """Lines already read from a stream, then the rest of the stream."""

    def __init__(self, lines: list[str], rest: TextSource) -> None:
        self.line_places = lines
        self._rest = rest

    def read(self, size: int = -1, /) -> str:
        if self.line_places:
            head = "".join(self.line_places)
            self.line_places = []
            # Fewer characters than asked for are a valid answer (as from a pipe), not all.
            return head + self._rest.read() if size < 0 else head
        return self._rest.read(size)

    def readline(self, size: int = -1, /) -> str:
        if self.line_places:
            return self.line_places.pop(0)
        return self._rest.readline(size)

    def __iter__(self) -> Iterator[str]:
        while self.line_places:
            yield self.line_places.pop(0)
        yield from self._rest


# -- columns and their converters ------------------------------------------------------------
class Columns:
    """A table's columns as an import needs them: declared names by folded name, the CSV
    converter of each, and which ones hold base64 in JSON."""

    def __init__(self, table: TableDef) -> None:
        self.table = table.name
        self.names = {fold_name(c.name): c.name for c in table.columns if not c.generated}
        self.generated = {fold_name(c.name) for c in table.columns if c.generated}
        checks = column_checks(table)
        self.converters = {c.name: _converter(checks[fold_name(c.name)]) for c in table.columns}
        self.fast = {
            c.name: _FAST[checks[fold_name(c.name)].kind]
            for c in table.columns
            if checks[fold_name(c.name)].kind in _FAST
        }
        self.blobs = frozenset(folded for folded, check in checks.items() if check.kind == "BLOB")

    def name(self, key: str, source: str, where: str) -> str:
        found = self.names.get(fold_name(key))
        if found is None:
            reason = (
                f"column '{key}' of table '{self.table}' is generated; it cannot be imported"
                if fold_name(key) in self.generated
                else f"table '{self.table}' has no column '{key}'"
            )
            raise ImportRowError(source, where, reason)
        return found


class _Bad(ValueError):
    """A CSV field its column cannot take; the reason, without the place."""


# Each converter takes one CSV field; an empty field is NULL.
def _to_boolean(text: str) -> object:
    value = _BOOLEANS.get(text)
    if value is None:
        if not text:
            return None
        value = _BOOLEANS.get(text.lower())
        if value is None:
            raise _Bad(f"{text!r} is not a boolean (true, false, 1 or 0)")
    return value


def _to_integer(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        if not text:
            return None
        raise _Bad(f"{text!r} is not an integer") from None


def _to_real(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        if not text:
            return None
        raise _Bad(f"{text!r} is not a number") from None


def _to_number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        if not text:
            return None
        raise _Bad(f"{text!r} is not a number") from None


def _to_number_or_text(text: str) -> object:
    try:
        return _to_number(text)
    except _Bad:
        return text


def _to_blob(text: str) -> object:
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(f"{short(text)!r} is not base64 (a BLOB column's values)") from None


# By the CinchDB type a column checks as (cinchdb._values.kind_of); None keeps the text.
_CONVERTERS: dict[str, Convert | None] = {
    "BOOLEAN": _to_boolean,
    "INTEGER": _to_integer,
    "REAL": _to_real,
    "NUMERIC": _to_number,
    "BLOB": _to_blob,
    "TEXT": None,
    "ANY": None,
}


# A builtin that converts a whole column of well-formed fields at C speed; any failure (an
# empty field, a bad value, "TRUE") sends the column through its converter above instead.
_FAST: dict[str, Convert] = {"BOOLEAN": _BOOLEANS.__getitem__, "INTEGER": int, "REAL": float}


def _converter(check: ColumnCheck) -> Convert | None:
    if check.kind == "NUMERIC" and check.text_ok:
        return _to_number_or_text  # a DATETIME: a number, or a date as text
    return _CONVERTERS[check.kind]


def short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# -- CSV -------------------------------------------------------------------------------------
def csv_rows(
    text: TextSource, columns: Columns, source: str
) -> Iterator[tuple[Sequence[int], list[Row]]]:
    lines = csv.reader(text, strict=True)
    try:
        header = next(lines, None)
    except csv.Error as error:
        raise ImportRowError(source, "line 1", f"is not valid CSV ({error})") from None
    if not header:
        return
    names = [columns.name(key, source, "line 1") for key in header]
    folded = [fold_name(n) for n in names]
    if len(set(folded)) != len(folded):
        twice = next(n for n in names if folded.count(fold_name(n)) > 1)
        raise ImportRowError(source, "line 1", f"the header names column '{twice}' twice")
    width = len(names)
    converters = [columns.converters[n] for n in names]
    fasts = [columns.fast.get(n) for n in names]
    end = lines.line_num  # the last line of the previous record
    while True:
        # Read a block row by row (for each record's first line), then convert it column by
        # column: one map() per column and block instead of Python per field.
        block: list[list[str]] = []
        starts: list[int] = []
        try:
            for fields in lines:
                starts.append(end + 1)
                end = lines.line_num
                block.append(fields)
                if len(block) == BLOCK:
                    break
        except csv.Error as error:
            raise ImportRowError(source, f"line {end + 1}", f"is not valid CSV ({error})") from None
        if not block:
            return
        if set(map(len, block)) != {width}:
            block, starts = _whole_rows(block, starts, width, source)
            if not block:
                continue
        converted = []
        for j, column in enumerate(zip(*block, strict=True)):
            convert = converters[j]
            if convert is None:
                converted.append([value or None for value in column])
                continue
            fast = fasts[j]
            if fast is not None:
                try:
                    converted.append(list(map(fast, column)))
                    continue
                except (ValueError, KeyError):
                    pass
            try:
                converted.append(list(map(convert, column)))
            except _Bad:
                for k, value in enumerate(column):
                    try:
                        convert(value)
                    except _Bad as bad:
                        raise ImportRowError(
                            source, f"line {starts[k]}", str(bad), column=names[j]
                        ) from None
                raise  # pragma: no cover - the value that failed fails again
        yield starts, list(map(dict, map(zip, repeat(names), zip(*converted, strict=True))))


def _whole_rows(
    block: list[list[str]], starts: list[int], width: int, source: str
) -> tuple[list[list[str]], list[int]]:
    """The block without blank lines, or an error for the first row of another width."""
    kept: list[list[str]] = []
    kept_starts: list[int] = []
    for fields, start in zip(block, starts, strict=True):
        if not fields:
            continue  # a blank line
        if len(fields) != width:
            raise ImportRowError(
                source, f"line {start}", f"has {len(fields)} fields; the header has {width}"
            )
        kept.append(fields)
        kept_starts.append(start)
    return kept, kept_starts
