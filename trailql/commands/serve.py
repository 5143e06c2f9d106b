"""``trailql serve``: the GraphQL API under uvicorn, in one process or several."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import tempfile
from typing import Any

import uvicorn

from api.app import create_app
from api.auth import AuthConfigError
from api.http_protocol import ApiHttpProtocol
from api.logs import configure_logging
from api.metrics import MULTIPROCESS_DIRECTORY
from api.persisted import PersistedQueryConfigError
from api.rate_limit import RateConfigError
from api.settings import ApiSettings
from common.settings import IndexSettings
from trailql.connection import resolve_connection
from trailql.failures import PortBusyError
from trailql.output import EXIT_OK, error


def _check_port_free(host: str, port: int) -> None:
    """Say at once, in a line, that the port is taken, rather than in uvicorn's log later."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusyError(
                    f"port {port} on {host} is in use (another server is there); choose "
                    "another with --port"
                ) from None
            raise


def run(arguments: argparse.Namespace) -> int:
    """Serve until stopped; exit 2 when the settings cannot work."""
    if arguments.workers < 1:
        return error("--workers must be 1 or more")
    _check_port_free(arguments.host, arguments.port)
    if arguments.log_format is not None:
        os.environ["TRAILQL_LOG_FORMAT"] = arguments.log_format  # workers read it too
    settings = ApiSettings()
    # Every line on stderr, ours and uvicorn's through the root: text at a terminal, else JSON.
    configure_logging(log_format=settings.log_format)
    connection = resolve_connection()
    try:
        app = create_app(connection, IndexSettings().index, settings)  # checks the settings
    except (AuthConfigError, RateConfigError, PersistedQueryConfigError) as exc:
        return error(exc)
    url = f"http://{arguments.host}:{arguments.port}/graphql"
    logging.getLogger("trailql.api").info(
        "GraphiQL: %s (%d worker%s)", url, arguments.workers, "s" * (arguments.workers > 1)
    )
    options = uvicorn_options(arguments, settings)
    if arguments.workers == 1:
        uvicorn.run(app, **options)
        return EXIT_OK
    # Several processes: each builds the app from the environment, so the cluster resolved
    # here (perhaps the local node) goes into it, and metrics are kept in files they share.
    os.environ.update(connection.environment())
    with tempfile.TemporaryDirectory(prefix="trailql-metrics-") as metrics_directory:
        os.environ[MULTIPROCESS_DIRECTORY] = metrics_directory
        uvicorn.run(
            "api.app:app_from_environment", factory=True, workers=arguments.workers, **options
        )
    return EXIT_OK


def uvicorn_options(arguments: argparse.Namespace, settings: ApiSettings) -> dict[str, Any]:
    """How uvicorn serves the API, with one process or several."""
    # The API logs each request itself (api/request_log.py): no uvicorn access log, and no
    # logging config of uvicorn's own, so its lines reach the JSON handler too.
    return {
        "host": arguments.host,
        "port": arguments.port,
        "log_level": "info",
        "log_config": None,
        "access_log": False,
        # SIGTERM: requests in flight get this long to finish, then are cancelled.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        # Subscriptions: a message as large as a request body at most; frames uncompressed,
        # as compressing each event once per connection costs more than it saves.
        "ws_max_size": settings.max_body_bytes,
        "ws_per_message_deflate": False,
        # HTTP/1.1 parsed in C (httptools) on uvloop's event loop (uvicorn takes it wherever it
        # is installed: every platform but Windows): more requests a second per worker than h11
        # on asyncio's own loop (bench/README.md, "uvloop and httptools"). Nagle's algorithm
        # off on every connection, and each request's head bounded (api/http_protocol.py).
        "http": ApiHttpProtocol,
        "loop": "auto",
    }
