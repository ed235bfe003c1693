"""Encrypted tenants sealed without their key: while writer processes keep writing, every seal
unseals to a file that opens with its key, passes ``PRAGMA integrity_check`` and holds every
row acknowledged before the seal began; the envelope holds no plaintext; the unsealed file
opens only with its key. Real processes, real files, SQLite's own locks."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cinchdb
from cinchdb.crypto import WrongKeyError
from cinchdb.errors import EnvelopeError, SealError
from cinchdb.models import Column
from cinchdb.project import _count_tenant_files
from cinchdb.replication.sealed import SEALED_DIR, Sealer, envelope_path, read_envelope, unseal
from tests.replication._writers import (
    MARK,
    acknowledged,
    finish,
    names_in,
    open_with_key,
    raw_writer,
    salt,
    wait_for_acks,
    writers,
)
from tests.stress import iterations

KEY = "sealed-test-key"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(
            "users", [Column(name="name", type="TEXT"), Column(name="blob", type="TEXT")]
        )
        db.create_tenant("sec", encrypt=True, encryption_key=KEY)
        db.create_tenant("plain")
    with cinchdb.connect(project_dir=root, tenant="sec", encryption_key=KEY) as db:
        db.insert("users", [{"name": f"seed{i}-{MARK}", "blob": "y" * 300} for i in range(50)])
    with cinchdb.connect(project_dir=root, tenant="plain") as db:
        db.insert("users", {"name": "p0"})
    return root


def _unsealed(project: Path, envelope: Path, target: Path) -> sqlite3.Connection:
    unseal(envelope, target)
    return open_with_key(target, KEY, salt(project / ".cinchdb", "sec"), "sec")


def test_seals_under_write_load_unseal_whole(project: Path, tmp_path: Path) -> None:
    meta = project / ".cinchdb"
    sealer = Sealer(meta)
    envelope = envelope_path(meta, "main", "main", "sec")
    rounds = iterations(8, 80)
    seen = 0
    with cinchdb.connect(project_dir=project) as db:
        source = db._files.path("main", "sec")
    acks = tmp_path / "acks"
    with (
        writers(project, [("sec", KEY)], acks, 4000, 30) as procs,
        raw_writer(source, KEY, salt(meta, "sec"), acks, 9, 20000, 30) as raw,
    ):
        wait_for_acks(acks, 1, 5)
        for n in range(rounds):
            before = acknowledged(tmp_path / "acks")
            sealer.sync()
            conn = _unsealed(project, envelope, tmp_path / f"u{n}" / "sec.db")
            try:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                names = names_in(conn)
            finally:
                conn.close()
            assert before <= names, sorted(before - names)[:5]
            seen = max(seen, len(before))
            assert MARK.encode() not in envelope.read_bytes()
            time.sleep(0.1)
        finish([*procs, raw])
    assert seen > 0  # the writers had written while the seals ran
    # After the writers: one more seal holds every row.
    sealer.sync()
    conn = _unsealed(project, envelope, tmp_path / "last" / "sec.db")
    try:
        assert acknowledged(tmp_path / "acks") <= names_in(conn)
    finally:
        conn.close()
    for path in (meta / SEALED_DIR).rglob("*"):
        if path.is_file():
            assert MARK.encode() not in path.read_bytes(), path


def test_unsealed_tenant_opens_only_with_its_key(project: Path, tmp_path: Path) -> None:
    meta = project / ".cinchdb"
    Sealer(meta).sync()
    target = tmp_path / "u" / "sec.db"
    unseal(envelope_path(meta, "main", "main", "sec"), target)
    tenant_salt = salt(meta, "sec")
    with pytest.raises(WrongKeyError):
        open_with_key(target, "not-the-key", tenant_salt, "sec")
    plain = sqlite3.connect(target)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
            plain.execute("SELECT count(*) FROM users").fetchone()
    finally:
        plain.close()
    conn = open_with_key(target, KEY, tenant_salt, "sec")
    try:
        assert len(names_in(conn)) == 50
    finally:
        conn.close()


def test_sync_seals_what_changed_and_drops_what_is_gone(project: Path) -> None:
    meta = project / ".cinchdb"
    sealer = Sealer(meta)
    first = sealer.sync()
    assert [(s.database, s.branch, s.tenant) for s in first] == [("main", "main", "sec")]
    assert first[0].chunks_written > 0
    assert sealer.sync() == []  # nothing changed
    assert Sealer(meta).sync()[0].chunks_written == 0  # a new sealer: same bytes, no writes
    with cinchdb.connect(project_dir=project, tenant="sec", encryption_key=KEY) as db:
        db.insert("users", {"name": "one-more"})
    again = sealer.sync()
    assert len(again) == 1 and again[0].chunks_written >= 1
    envelope = envelope_path(meta, "main", "main", "sec")
    held = read_envelope(envelope)
    assert (held.database, held.branch, held.tenant) == ("main", "main", "sec")
    with cinchdb.connect(project_dir=project) as db:
        db.delete_tenant("sec")
    assert sealer.sync() == []
    assert not envelope.exists()


def test_sealed_directory_is_not_taken_for_tenants(project: Path) -> None:
    meta = project / ".cinchdb"
    count = _count_tenant_files(meta)
    Sealer(meta).sync()
    assert (meta / SEALED_DIR).is_dir()
    assert _count_tenant_files(meta) == count
    with cinchdb.connect(project_dir=project) as db:
        assert sorted(t.name for t in db.list_tenants()) == ["main", "plain", "sec"]
        assert db.check()["ok"], db.check()
    done = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", "check"], cwd=project, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_unseal_is_whole_or_nothing(project: Path, tmp_path: Path) -> None:
    meta = project / ".cinchdb"
    Sealer(meta).sync()
    envelope = envelope_path(meta, "main", "main", "sec")
    existing = tmp_path / "e" / "sec.db"
    existing.parent.mkdir()
    existing.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        unseal(envelope, existing)
    assert existing.read_bytes() == b"mine"
    conn = sqlite3.connect(envelope)
    try:
        conn.execute("UPDATE sealed_chunks SET data = zeroblob(length(data)) WHERE idx = 0")
        conn.commit()
    finally:
        conn.close()
    target = tmp_path / "d" / "sec.db"
    with pytest.raises(EnvelopeError, match="chunks do not match their digest"):
        unseal(envelope, target)
    assert not target.exists() and not Path(f"{target}-wal").exists()
    assert list(target.parent.iterdir()) == []
    with pytest.raises(EnvelopeError, match="it does not exist"):
        unseal(tmp_path / "none.db", target)


HOLDER = """
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 120, 1, 0))
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_writer_holding_the_wal_lock_gets_a_clear_error(project: Path) -> None:
    """A process that holds WAL_WRITE_LOCK (byte 120 of -shm) past the bounded wait: the seal
    gives up with SealError, and takes nothing half."""
    meta = project / ".cinchdb"
    with cinchdb.connect(project_dir=project) as db:
        source = db._files.path("main", "sec")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{source}-shm", "20"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(SealError, match=r"Tenant 'sec': no consistent copy of .* try again"):
            Sealer(meta).sync()
        assert not envelope_path(meta, "main", "main", "sec").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert len(Sealer(meta).sync()) == 1


def test_the_lock_bytes_are_sqlites(project: Path) -> None:
    """While a writer is inside a write transaction (holding SQLite's WAL_WRITE_LOCK), byte
    120 of -shm is locked: the offsets match SQLite's."""
    with cinchdb.connect(project_dir=project) as db:
        source = db._files.path("main", "sec")
    script = (
        "import sys, time, sqlcipher3\n"
        "from cinchdb.crypto import derive_key, key_pragma\n"
        "c = sqlcipher3.connect(sys.argv[3], isolation_level=None)\n"
        "c.execute(key_pragma(derive_key(sys.argv[2], bytes.fromhex(sys.argv[4]))))\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute(\"INSERT INTO users (id, name) VALUES ('z', 'z')\")\n"
        "print('writing', flush=True)\n"
        "time.sleep(20)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(project), KEY, str(source),
         salt(project / ".cinchdb", "sec").hex()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == b"writing\n"
        fd = os.open(f"{source}-shm", os.O_RDWR)
        try:
            probe = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 120, 1, 0)
            with pytest.raises(OSError):
                fcntl.fcntl(fd, fcntl.F_SETLK, probe)
        finally:
            os.close(fd)
    finally:
        child.kill()
        child.wait(timeout=30)


CHILD = """
import sys, cinchdb
with cinchdb.connect(project_dir=sys.argv[1], tenant="sec", encryption_key=sys.argv[2]) as db:
    db.insert("users", [{"name": "child%d" % i} for i in range(20)])
"""


def test_sealing_a_tenant_this_process_holds_open(project: Path, tmp_path: Path) -> None:
    """A tenant this process has open through SQLite is copied without taking (or dropping)
    locks: its connection keeps its locks, and another process's writes and close leave it
    readable (see cinchdb/_held_files.py)."""
    meta = project / ".cinchdb"
    with cinchdb.connect(project_dir=project, tenant="sec", encryption_key=KEY) as db:
        db.insert("users", {"name": "held"})
        sealed = Sealer(meta).sync()
        assert [s.tenant for s in sealed] == ["sec"]
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(project), KEY], capture_output=True, timeout=60
            )
            assert done.returncode == 0, done.stderr.decode()
            assert len(db.query("SELECT name FROM users")) >= 51
        assert len(db.query("SELECT name FROM users")) == 51 + 60
    conn = _unsealed(project, envelope_path(meta, "main", "main", "sec"), tmp_path / "u.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert "held" in names_in(conn)
    finally:
        conn.close()
