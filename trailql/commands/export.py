"""``trailql export``: every event a filter matches, to standard output, in constant memory.

The same export as ``/export`` (api/export.py): through a point in time, confined to the
tenant of the credential given, checked exactly as the API checks it (TRAILQL_API_KEYS,
TRAILQL_JWT_*; with TRAILQL_AUTH_DISABLED every account).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import BinaryIO

import orjson

from api.app import limits_from
from api.auth import AuthConfigError, UnauthenticatedError, authenticator_from
from api.context import Context
from api.export import ExportRequestError, encoded, filter_from, format_of, parse_fields
from api.settings import ApiSettings
from api.tenancy import EVERY_ACCOUNT, Tenant
from common.elastic import async_client
from common.settings import IndexSettings
from trailql.connection import resolve_connection
from trailql.output import EXIT_OK, error


async def _tenant(settings: ApiSettings, api_key: str | None, token: str | None) -> Tenant:
    authenticator = authenticator_from(settings)
    if authenticator is None:
        return EVERY_ACCOUNT
    headers: dict[str, str] = {}
    if api_key:
        headers["x-api-key"] = api_key
    if token:
        headers["authorization"] = f"Bearer {token}"
    if not headers:
        raise UnauthenticatedError(
            "authentication is on: give --api-key (or TRAILQL_API_KEY) or --token "
            "(or TRAILQL_TOKEN), as for the API"
        )
    return await authenticator.authenticate(headers)


async def _export(arguments: argparse.Namespace, out: BinaryIO) -> int:
    settings = ApiSettings()
    limits = limits_from(settings)
    try:
        export_format = format_of(arguments.format)
        fields = parse_fields(arguments.fields)
        query = filter_from(orjson.loads(arguments.filter) if arguments.filter else None, limits)
    except orjson.JSONDecodeError as exc:
        return error(f"--filter is not JSON: {exc}")
    except ExportRequestError as exc:
        return error(exc)
    api_key = arguments.api_key or os.environ.get("TRAILQL_API_KEY")
    token = arguments.token or os.environ.get("TRAILQL_TOKEN")
    try:
        tenant = await _tenant(settings, api_key, token)
    except (AuthConfigError, UnauthenticatedError) as exc:
        return error(exc)
    elasticsearch = async_client(resolve_connection())
    try:
        context = Context(elasticsearch, IndexSettings().index, tenant, limits=limits)
        async for chunk in encoded(context, query, export_format, fields):
            out.write(chunk)
        out.flush()
    finally:
        await elasticsearch.close()
    return EXIT_OK


def run(arguments: argparse.Namespace) -> int:
    """Write the export to standard output."""
    try:
        return asyncio.run(_export(arguments, sys.stdout.buffer))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        return EXIT_OK
