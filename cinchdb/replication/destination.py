"""Where a replica lives: a directory, or a prefix in an S3-compatible bucket.

``--to`` / ``--from`` take a plain path or ``file://`` URL (a directory), or
``s3://bucket/prefix?endpoint=URL&region=R&force-path-style=true``. Credentials never appear
in a destination: Litestream reads them from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
(see :mod:`cinchdb.replication.litestream`). Each file of ``.cinchdb/`` lands in the replica
under its path relative to ``.cinchdb/`` (``metadata.db``, ``main-main/51/t0.db``, ...).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import attrs

from cinchdb.errors import DestinationError

# Litestream's own URL spelling of path-style addressing differs from its config key.
_QUERY_KEYS = {"endpoint", "region", "force-path-style", "forcePathStyle"}
# S3's bucket naming rules (DNS-compatible names; the ones every S3 server accepts).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@attrs.frozen
class Destination:
    """A parsed replica destination. ``kind`` is ``"file"`` (``path`` is an absolute
    directory) or ``"s3"`` (``bucket``, ``prefix`` without leading or trailing slashes,
    optional ``endpoint`` and ``region``, ``force_path_style``)."""

    kind: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    force_path_style: bool = False

    def litestream_replica(self, rel: str | None = None) -> dict[str, Any]:
        """Litestream's ``replica`` config for the file at ``rel`` (relative to ``.cinchdb/``,
        with ``/``), or for the whole replica when ``rel`` is None (directory replication,
        where Litestream appends each file's relative path itself)."""
        if self.kind == "file":
            assert self.path is not None
            base = self.path if rel is None else self.path.joinpath(*PurePosixPath(rel).parts)
            return {"type": "file", "path": os.fspath(base)}
        path = self.prefix if rel is None else "/".join(p for p in (self.prefix, rel) if p)
        replica: dict[str, Any] = {
            "type": "s3",
            "bucket": self.bucket,
            "path": path,
            # Litestream expands ${VAR} from its own environment: the secrets stay out of the
            # config file, which is written to disk.
            "access-key-id": "${AWS_ACCESS_KEY_ID}",
            "secret-access-key": "${AWS_SECRET_ACCESS_KEY}",
        }
        if self.endpoint is not None:
            replica["endpoint"] = self.endpoint
        if self.region is not None:
            replica["region"] = self.region
        if self.force_path_style:
            replica["force-path-style"] = True
        return replica

    def describe(self) -> str:
        """The destination as a URL a user can pass back to ``--to`` / ``--from`` (it holds no
        secrets: a destination never has any)."""
        if self.kind == "file":
            assert self.path is not None
            return os.fspath(self.path)
        query: dict[str, str] = {}
        if self.endpoint is not None:
            query["endpoint"] = self.endpoint
        if self.region is not None:
            query["region"] = self.region
        if self.force_path_style:
            query["force-path-style"] = "true"
        tail = f"?{urlencode(query, safe=':/')}" if query else ""
        return f"s3://{self.bucket}/{quote(self.prefix)}{tail}"


def parse_destination(text: str, *, base: Path | None = None) -> Destination:
    """``text`` as a :class:`Destination`; a relative path is taken from ``base`` (default:
    the current directory).

    Raises:
        DestinationError: an unknown scheme, a bucket name S3 refuses, an unknown query
            parameter or a malformed value.
    """
    if not text.strip():
        raise DestinationError(text, "it is empty; give a directory or an s3:// URL")
    if "://" not in text:
        return Destination("file", path=((base or Path.cwd()) / Path(text).expanduser()).resolve())
    parts = urlsplit(text)
    match parts.scheme:
        case "file":
            if parts.netloc not in ("", "localhost") or not parts.path:
                raise DestinationError(text, "a file:// URL names an absolute path (file:///dir)")
            return Destination("file", path=Path(parts.path).resolve())
        case "s3":
            return _parse_s3(text, parts.netloc, parts.path, parts.query)
        case _:
            raise DestinationError(
                text, f"unknown scheme '{parts.scheme}'; use a directory, file:// or s3://"
            )


def _parse_s3(text: str, bucket: str, path: str, query: str) -> Destination:
    if not _BUCKET.fullmatch(bucket):
        raise DestinationError(
            text,
            f"'{bucket}' is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')",
        )
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as e:
        raise DestinationError(text, f"its query string is malformed ({e})") from e
    unknown = sorted(set(params) - _QUERY_KEYS)
    if unknown:
        raise DestinationError(
            text,
            f"unknown parameter '{unknown[0]}'; known: endpoint, region, force-path-style"
            " (credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
        )
    values = {key: found[-1] for key, found in params.items()}
    endpoint = values.get("endpoint") or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise DestinationError(text, f"endpoint '{endpoint}' is not an http:// or https:// URL")
    style = values.get("force-path-style", values.get("forcePathStyle", "false")).lower()
    if style not in _TRUE | _FALSE:
        raise DestinationError(text, f"force-path-style must be true or false, not '{style}'")
    prefix = path.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise DestinationError(text, f"prefix '{prefix}' has an empty, '.' or '..' part")
    return Destination(
        "s3",
        bucket=bucket,
        prefix=prefix,
        endpoint=endpoint,
        region=values.get("region") or None,
        force_path_style=style in _TRUE,
    )
