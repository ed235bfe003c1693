"""A real ``cinch serve --certfile/--keyfile`` on 127.0.0.1 with a self-signed certificate
made here by the ``openssl`` command: HTTPS with the certificate as the trusted CA, and an
encrypted tenant's key sent over it.

(The plain-HTTP refusal of a tenant key from another host is tests/server/test_requests.py's;
half a TLS pair is tests/server/test_live.py's.)
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinchdb.keys import ApiKeys
from tests.server.conftest import B, LiveServer, bearer
from tests.server.test_live_workers import session_processes, start_serve, stop

TENANT_KEY = "correct horse battery staple"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM)."""
    openssl = shutil.which("openssl")
    # Needed, not optional: without it the HTTPS path would go untested.
    assert openssl is not None, "the openssl command is needed to make a test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert, key


@pytest.fixture
def tls_server(
    project: Path, tmp_path: Path, certificate: tuple[Path, Path]
) -> Iterator[LiveServer]:
    cert, key = certificate
    server = start_serve(
        project, tmp_path / "serve.log", "--certfile", str(cert), "--keyfile", str(key),
        scheme="https",
    )  # fmt: skip
    try:
        yield server
    finally:
        assert stop(server) == []


def test_https_with_the_certificate_trusted(
    tls_server: LiveServer, certificate: tuple[Path, Path], keys: ApiKeys
) -> None:
    cert, _ = certificate
    token = keys.create(name="tls").token
    trusted = ssl.create_default_context(cafile=str(cert))
    assert tls_server.url.startswith("https://127.0.0.1:")
    with httpx.Client(
        base_url=tls_server.url, headers=bearer(token), verify=trusted, timeout=30
    ) as https:
        tables = https.get(B + "/tables")
        assert tables.status_code == 200, tables.text
        assert tables.headers["X-Cinch-Head"]
        # An encrypted tenant, its key only ever in the header.
        vault = {**bearer(token), "X-Cinch-Tenant-Key": TENANT_KEY}
        made = https.post(B + "/tenants", json={"name": "vault", "encrypt": True}, headers=vault)
        assert made.status_code == 200, made.text
        assert made.json()["encrypted"] is True
        rows = B + "/tenants/vault/rows/users"
        stored = https.post(rows, json={"rows": {"name": "ann", "age": 3}}, headers=vault)
        assert stored.status_code == 200, stored.text
        listed = https.get(rows, headers=vault)
        assert listed.status_code == 200, listed.text
        assert [(r["name"], r["age"]) for r in listed.json()["rows"]] == [("ann", 3)]
        wrong = https.get(rows, headers={**bearer(token), "X-Cinch-Tenant-Key": "wrong"})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_key"
    # Without the certificate trusted, the client refuses the server: it really is TLS.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_server.url + "/v1/openapi.json", timeout=30)
    # And plain HTTP to the TLS port gets no API answer.
    plain = tls_server.url.replace("https://", "http://")
    try:
        answer = httpx.get(plain + "/v1/openapi.json", timeout=30)
    except httpx.TransportError:
        pass
    else:
        assert answer.status_code >= 400 and "openapi" not in answer.text
    log = tls_server.output()
    assert f"Serving {tls_server.project} at {tls_server.url} (Ctrl-C stops)" in log
    assert TENANT_KEY not in log and token not in log
    metadata = (tls_server.project / ".cinchdb" / "metadata.db").read_bytes()
    assert TENANT_KEY.encode() not in metadata
    assert session_processes(tls_server.process.pid)  # still up until the fixture stops it
