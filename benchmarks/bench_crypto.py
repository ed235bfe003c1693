"""Encrypted tenants beside plain tenants: single insert, select by id, bulk insert, opening.

Both tenants live in the same project and run through the same handle type; the only
difference is SQLCipher (AES-256, raw key) under the encrypted one. Median of 5 runs of 2,000
calls each, interleaved. Also: the first ``connect`` with a passphrase (PBKDF2, once per
tenant and process) and reopening a file with the raw key.

Run: python benchmarks/bench_crypto.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

import cinchdb
from cinchdb._guard import EncryptedTenantConnection
from cinchdb.crypto import open_encrypted
from cinchdb.models import Column

KEY = "benchmark-key"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    calls, repeat = (300, 2) if quick else (2000, 5)
    print(machine_line())
    with tempfile.TemporaryDirectory() as directory:
        root = cinchdb.init(Path(directory) / "p")
        admin = cinchdb.connect(project_dir=root)
        admin.create_table("t", [Column(name="name"), Column(name="n", type="INTEGER")])
        admin.create_tenant("plain", lazy=False)
        start = time.perf_counter()
        admin.create_tenant("secret", lazy=False, encrypt=True, encryption_key=KEY)
        create_secret = time.perf_counter() - start
        plain = cinchdb.connect(tenant="plain", project_dir=root)
        start = time.perf_counter()
        secret = cinchdb.connect(tenant="secret", encryption_key=KEY, project_dir=root)
        first_connect = time.perf_counter() - start
        samples: dict[str, list[float]] = {}
        for rep in range(repeat):
            for label, db in (("plain", plain), ("secret", secret)):
                ids: list[str] = []
                start = time.perf_counter()
                for i in range(calls):
                    ids.append(db.insert("t", {"name": f"r{rep}-{i}", "n": i})["id"])
                samples.setdefault(f"{label} insert", []).append(
                    (time.perf_counter() - start) / calls
                )
                start = time.perf_counter()
                for key in ids:
                    db.query("SELECT * FROM t WHERE id = ?", [key])
                samples.setdefault(f"{label} select", []).append(
                    (time.perf_counter() - start) / calls
                )
                rows = [
                    {"name": f"b{rep}-{i}", "n": i} for i in range(10_000 if not quick else 1000)
                ]
                start = time.perf_counter()
                db.insert("t", rows)
                samples.setdefault(f"{label} bulk", []).append(time.perf_counter() - start)
        raw_key = secret._files.keys["secret"]
        path = secret._files.path("main", "secret")
        opens = []
        for _ in range(20):
            start = time.perf_counter()
            open_encrypted(path, raw_key, EncryptedTenantConnection, "secret").close()
            opens.append(time.perf_counter() - start)
        for db in (plain, secret, admin):
            db.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    bulk = 10_000 if not quick else 1000
    print("| operation | plain tenant | encrypted tenant | ratio |")
    print("|---|---|---|---|")
    for what, unit, scale in (("insert", "us", 1e6), ("select", "us", 1e6), ("bulk", "ms", 1e3)):
        label = {"insert": "single insert", "select": "select by id",
                 "bulk": f"bulk insert of {bulk:,} rows"}[what]  # fmt: skip
        p, s = med[f"plain {what}"], med[f"secret {what}"]
        print(f"| {label} | {p * scale:.1f} {unit} | {s * scale:.1f} {unit} | {s / p:.2f}x |")
    print(f"| create_tenant(encrypt=True, lazy=False) | | {create_secret * 1e3:.1f} ms | |")
    print(f"| first connect with the passphrase (PBKDF2) | | {first_connect * 1e3:.1f} ms | |")
    print(f"| reopening the file with the raw key | | {statistics.median(opens) * 1e3:.2f} ms | |")


if __name__ == "__main__":
    main()
