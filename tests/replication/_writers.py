"""Writer processes for the sealed-copy and backup tests: real processes that insert rows into
one tenant each, and record each row's name in an acknowledgement file once its insert has
returned (committed). Bounded in rows and in time; always reaped."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cinchdb.crypto import derive_key, open_encrypted
from journal import drivers

#: A marker in every written row: it must never appear in an encrypted file's copies.
MARK = "PLAINTEXT-MARK-7d1e"

WRITER = """
import sys, time, cinchdb
root, tenant, key, wid, rows, seconds, ack = sys.argv[1:8]
key = key or None
deadline = time.monotonic() + float(seconds)
with open(ack, "a") as out:
    i = 0
    while i < int(rows) and time.monotonic() < deadline:
        # A fresh handle every 40 rows: closing one lets SQLite checkpoint the WAL.
        with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
            for _ in range(40):
                if i >= int(rows) or time.monotonic() >= deadline:
                    break
                name = "w%s-%d" % (wid, i)
                db.insert("users", {"name": name + "-" + MARK, "blob": "x" * 300})
                out.write(name + "\\n")
                out.flush()
                i += 1
""".replace("MARK", repr(MARK))

# A writer through SQLCipher itself with a tiny autocheckpoint: checkpoints and WAL restarts
# every few transactions, the moments a copy that held no lock would tear.
RAW_WRITER = """
import sys, time, uuid, sqlcipher3
from cinchdb.crypto import derive_key, key_pragma
path, key, salt, wid, rows, seconds, ack = sys.argv[1:8]
deadline = time.monotonic() + float(seconds)
conn = sqlcipher3.connect(path, isolation_level=None, timeout=30)
conn.execute(key_pragma(derive_key(key, bytes.fromhex(salt))))
conn.execute("PRAGMA wal_autocheckpoint = 4")
with open(ack, "a") as out:
    for i in range(int(rows)):
        if time.monotonic() >= deadline:
            break
        name = "r%s-%d" % (wid, i)
        conn.execute(
            "INSERT INTO users (id, name, blob, created_at, updated_at)"
            " VALUES (?, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            (str(uuid.uuid4()), name + "-" + MARK, "z" * 2000),
        )
        out.write(name + "\\n")
        out.flush()
conn.close()
""".replace("MARK", repr(MARK))


@contextmanager
def raw_writer(
    path: Path, key: str, tenant_salt: bytes, ack_dir: Path, wid: int, rows: int, seconds: float
) -> Iterator[subprocess.Popen[bytes]]:
    """One :data:`RAW_WRITER` process on the encrypted file ``path``; reaped on exit."""
    ack_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", RAW_WRITER, str(path), key, tenant_salt.hex(), str(wid),
         str(rows), str(seconds), str(ack_dir / f"{wid}.ack")],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@contextmanager
def writers(
    root: Path, tenants: list[tuple[str, str | None]], ack_dir: Path, rows: int, seconds: float
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One writer process per (tenant, key); reaped (killed if still running) on exit."""
    ack_dir.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(root),
                tenant,
                key or "",
                str(n),
                str(rows),
                str(seconds),
                str(ack_dir / f"{n}.ack"),
            ],
            stderr=subprocess.PIPE,
        )
        for n, (tenant, key) in enumerate(tenants)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def finish(procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    for proc in procs:
        _, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err.decode()


def acknowledged(ack_dir: Path, writer: int | None = None) -> set[str]:
    """Rows whose insert had returned when this was read (a partly written last line is not
    yet acknowledged)."""
    names: set[str] = set()
    paths = sorted(ack_dir.glob("*.ack")) if writer is None else [ack_dir / f"{writer}.ack"]
    for path in paths:
        if path.exists():
            text = path.read_text()
            names.update(line for line in text.split("\n")[:-1] if line)
    return names


def salt(meta_dir: Path, tenant: str, database: str = "main") -> bytes:
    conn = sqlite3.connect(meta_dir / "metadata.db")
    try:
        row = conn.execute(
            "SELECT salt FROM cinch_tenants WHERE database = ? AND name = ?", (database, tenant)
        ).fetchone()
    finally:
        conn.close()
    return bytes(row[0])


def open_with_key(
    path: Path, passphrase: str, tenant_salt: bytes, tenant: str
) -> sqlite3.Connection:
    """A SQLCipher connection on ``path`` with the tenant's key (WrongKeyError otherwise)."""
    assert drivers.sqlcipher is not None
    conn: sqlite3.Connection = open_encrypted(
        path, derive_key(passphrase, tenant_salt), drivers.sqlcipher.Connection, tenant
    )
    return conn


def names_in(conn: sqlite3.Connection) -> set[str]:
    return {
        str(name).removesuffix("-" + MARK) for (name,) in conn.execute("SELECT name FROM users")
    }


def wait_for_acks(ack_dir: Path, writers_count: int, minimum: int, timeout: float = 60) -> None:
    """Until every writer has acknowledged ``minimum`` rows (they take a moment to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(acknowledged(ack_dir, n)) >= minimum for n in range(writers_count)):
            return
        time.sleep(0.05)
    raise AssertionError(f"writers did not start within {timeout} s")
