"""``cinch serve``: the project over HTTP (uvicorn running cinchdb.server's app)."""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import os
import socket
from pathlib import Path

import click
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from cinchdb.project import find_project
from cinchdb.server.app import PROJECT_ENV, SETTINGS_ENV, SUPERVISOR_ENV
from cinchdb.server.settings import ServerSettings

#: uvicorn's factory: each worker builds the app for the project named in the environment.
FACTORY = "cinchdb.server.app:app_from_environment"


class UvicornConfig(uvicorn.Config):
    """uvicorn's settings, with a listening socket that says it is TCP.

    With several workers uvicorn binds the socket itself as ``socket.socket(family)``, whose
    ``proto`` is 0; accepted connections inherit it, and asyncio turns Nagle's algorithm off
    only on sockets whose ``proto`` is ``IPPROTO_TCP``. uvicorn writes a response's head and
    body in two sends, so every keep-alive response then waited ~40 ms for the client's delayed
    ACK (benchmarks/README.md, "Server"). Wrapping the same descriptor again makes Python read
    the protocol back from the kernel.
    """

    def bind_socket(self) -> socket.socket:
        return socket.socket(fileno=super().bind_socket().detach())


def _logging() -> dict[str, object]:
    """uvicorn's log set-up, with its access log replaced by the server's own (which redacts
    anything shaped like a key from the query string it logs)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["cinchdb.server.access"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on (0.0.0.0: every interface).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each with its own handles; revocation reaches all).",
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS certificate (PEM): serve HTTPS. Needs --keyfile.",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS private key (PEM) of --certfile.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A browser origin allowed to call the API (repeatable; never '*').",
)
@click.option(
    "--max-body",
    default=ServerSettings().max_body,
    show_default=True,
    type=click.IntRange(1),
    metavar="BYTES",
    help="The largest request body accepted.",
)
@click.option(
    "--no-analytics",
    is_flag=True,
    help="Do not record statement analytics (on by default under serve; docs/analytics.md).",
)
def serve(
    host: str,
    port: int,
    workers: int,
    certfile: Path | None,
    keyfile: Path | None,
    cors_origins: tuple[str, ...],
    max_body: int,
    no_analytics: bool,
) -> None:
    """Serve the project over HTTP: the API of docs/server.md, keys from 'cinch key'.

    Serves the project of the current directory, and only it. Every call needs an API key
    (Authorization: Bearer ...); GET /v1/openapi.json describes the API. Ctrl-C stops it.

    \b
    Example:
      cinch key create --scope data:read --name reporting
      cinch serve --port 8000
    """
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together")
    for origin in cors_origins:
        if origin == "*" or not origin.startswith(("http://", "https://")):
            raise click.UsageError(
                f"--cors-origin needs an explicit origin such as https://app.example.com,"
                f" got {origin!r}"
            )
    settings = ServerSettings(
        max_body=max_body, cors_origins=cors_origins, analytics=not no_analytics
    )
    root = find_project()
    os.environ[PROJECT_ENV] = str(root)
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    os.environ[SETTINGS_ENV] = json.dumps(
        {
            "max_body": settings.max_body,
            "cors_origins": list(settings.cors_origins),
            "analytics": settings.analytics,
        }
    )
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {root} at {scheme}://{shown}:{port} (Ctrl-C stops)", err=True)
    if scheme == "http" and not _loopback(host):
        click.echo(
            "Warning: plain HTTP on a public address: keys cross the network in clear; put a"
            " TLS proxy in front or give --certfile/--keyfile",
            err=True,
        )
    config = UvicornConfig(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        access_log=False,
        log_config=_logging(),
        server_header=False,
    )
    # What uvicorn.run does, with the socket above for several workers.
    with contextlib.suppress(KeyboardInterrupt):
        if workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.Server(config).run()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
