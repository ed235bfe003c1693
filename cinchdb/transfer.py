"""Import and export: rows between a tenant and a CSV, JSON array or NDJSON file.

``CinchDB.import_rows`` and ``CinchDB.export_rows`` delegate here; the CLI's ``cinch data
import`` and ``cinch data export`` call those. Readers are in ``cinchdb._transfer_read``,
writers in ``cinchdb._transfer_write``; this module opens files, picks the format, and turns
an error about the n-th row written into one naming where that row was read.

An import is one ``insert_many`` call: one transaction, so a bad row leaves the tenant as it
was. An export is read in chunks from one statement (one read snapshot) and written as it is
read; written to a path, it goes to a temporary file beside it that replaces the path only
when every row is written.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cinchdb._transfer_json import json_rows, ndjson_rows
from cinchdb._transfer_read import (
    FORMATS,
    Columns,
    Progress,
    Row,
    RowReader,
    TextSource,
    csv_rows,
    element_place,
    line_place,
    sniff,
)
from cinchdb._transfer_write import Sink, write_rows
from cinchdb.errors import ArgumentError, CinchError, ImportRowError

if TYPE_CHECKING:
    from cinchdb.data import RowStream
    from journal.definitions import TableDef

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Progress",
    "Source",
    "Target",
    "export_rows",
    "format_of",
    "import_rows",
    "reader_for",
]

#: File name endings and the format each means.
EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
#: What an import reads: a path, or an open text stream.
Source = str | os.PathLike[str] | TextIO
#: Where an export writes: a path, or an open text stream.
Target = str | os.PathLike[str] | TextIO
InsertMany = Callable[[str, Iterable[Mapping[str, object]]], int]


#: Per format: its reader (blocks of rows, with each row's place) and how a place is named.
_READERS: dict[
    str,
    tuple[
        Callable[[TextSource, Columns, str], Iterator[tuple[Sequence[int], list[Row]]]],
        Callable[[int], str],
    ],
] = {
    "csv": (csv_rows, line_place),
    "ndjson": (ndjson_rows, line_place),
    "json": (json_rows, element_place),
}


def reader_for(
    fmt: str,
    text: TextSource,
    table: TableDef,
    source: str,
    *,
    tell: Callable[[], int] | None = None,
    total: int | None = None,
    progress: Progress | None = None,
) -> RowReader:
    """A :class:`RowReader` of ``text`` in format ``fmt`` (one of :data:`FORMATS`), typed by
    ``table``'s columns; ``source`` names the input in errors."""
    read, describe = _READERS[fmt]
    blocks = read(text, Columns(table), source)
    return RowReader(blocks, source, tell=tell, total=total, progress=progress,
                     describe=describe)  # fmt: skip


def format_of(path: str | os.PathLike[str]) -> str | None:
    """The format a file name's extension means (``.csv``, ``.json``, ``.ndjson``,
    ``.jsonl``); None for any other."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def _check_format(method: str, fmt: str | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise ArgumentError(method, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def import_rows(
    insert_many: InsertMany,
    table: TableDef,
    source: Source,
    fmt: str | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Read ``source`` and insert its rows into ``table`` with ``insert_many`` (one
    transaction); return how many rows were imported.

    ``fmt`` None: from a path's extension, or, for a stream, from its first non-space
    character (``[`` a JSON array, ``{`` NDJSON, else CSV).

    Raises:
        ImportRowError: a row is malformed, or a value or constraint refused it (naming its
            line, or its element of a JSON array); nothing was imported.
        ArgumentError: an unknown format, or a path whose extension names none.
    """
    _check_format("import_rows", fmt)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        fmt = fmt or format_of(path)
        if fmt is None:
            raise ArgumentError(
                "import_rows",
                f"cannot tell the format of '{path}' from its extension; pass format="
                f" one of {', '.join(FORMATS)}",
            )
        with path.open("rb") as raw:
            total = os.fstat(raw.fileno()).st_size
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = reader_for(fmt, text, table, str(path), tell=raw.tell, total=total,
                                progress=progress)  # fmt: skip
            return _insert(insert_many, table.name, reader)
    name = str(getattr(source, "name", "input"))
    stream: TextSource = source
    if fmt is None:
        fmt, stream = sniff(source)
    return _insert(insert_many, table.name, reader_for(fmt, stream, table, name))


def _insert(insert_many: InsertMany, table: str, reader: RowReader) -> int:
    try:
        return insert_many(table, reader)
    except ImportRowError:
        raise
    except CinchError as error:
        # insert_many's typed-value and constraint errors name the 0-based index of the row
        # at fault among those it was given: turned here into the row's place in the file.
        index = getattr(error, "row_index", None)
        if not isinstance(index, int):
            raise
        failed = ImportRowError(reader.source, reader.where(index), str(error), row_index=index)
        # Kept for callers, but not repeated in the message: the error's own text names it.
        failed.column = getattr(error, "column", None)
        raise failed from error


def export_rows(stream: RowStream, target: Target, fmt: str | None = None) -> int:
    """Write the rows of ``stream`` to ``target`` in format ``fmt`` (None: a path's
    extension, else CSV); return how many rows were written.

    Raises:
        ArgumentError: an unknown format.
    """
    _check_format("export_rows", fmt)
    if not isinstance(target, str | os.PathLike):
        return _write(stream, target, fmt or "csv")
    path = Path(target)
    fmt = fmt or format_of(path) or "csv"
    # Written beside the target and renamed over it: a failed export leaves no half file.
    # Created with "x" (not mkstemp, whose file only its owner may read) so the export gets
    # the permissions the umask gives any new file.
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with scratch.open("x", encoding="utf-8", newline="") as out:
            count = _write(stream, out, fmt)
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return count


def _write(stream: RowStream, out: Sink, fmt: str) -> int:
    return write_rows(fmt, stream.columns, stream.booleans, stream.chunks(), out)
