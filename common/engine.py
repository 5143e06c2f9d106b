"""Which search engine a cluster runs, and the few requests each one asks differently.

Everything above this module speaks one client API, elasticsearch-py 9's. Elasticsearch 8 and
OpenSearch 2 answer nearly all of it unchanged; what they do not is translated here, in the
transport under that client, and nowhere else:

- Elasticsearch 8 refuses the media type ``compatible-with=9``; it is sent ``compatible-with=8``.
- OpenSearch knows neither versioned media types nor ``X-Elastic-Product`` (without which the
  client refuses every answer); calls ``flattened`` ``flat_object`` (with neither
  ``ignore_above`` nor ``depth_limit``: the indexer cuts deeper blocks itself); and keeps its
  point-in-time API under ``_search/point_in_time``, with ``pit_id`` for ``id``. Nor does it
  take ``ignore_missing_component_templates``: the component templates an index template is
  composed of are made, empty, where missing, so that a user's own still win. And it applies
  ``index.mapping.depth.limit`` (20) to arrays nested in unindexed objects too, which would
  refuse a record Elasticsearch stores: its indices are made with a limit above the indexer's.

One difference is left as it is: with ``index.mapping.ignore_malformed``, OpenSearch also
ignores an object given to a keyword, date, ip or boolean field, where Elasticsearch refuses
the event (and the indexer stores it in ``<alias>_without_<field>``, without that field). Either
way the event is kept, found by its other fields and not by that one. Translating the setting
field by field would make OpenSearch refuse a boolean written ``"yes"``, which both ignore now.

The engine is read from the server's first answer (``GET /_nodes/_local``), or named by
``ELASTICSEARCH_ENGINE`` when the credentials may not read node information.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from elastic_transport import (
    ApiResponseMeta,
    AsyncTransport,
    HttpHeaders,
    SerializerCollection,
    Transport,
    TransportApiResponse,
)
from elasticsearch._version import __versionstr__ as elasticsearch_version

if TYPE_CHECKING:
    from collections.abc import Mapping

    from common.aws_signing import AwsSigner


class Engine(StrEnum):
    """The two engine families TrailQL speaks to."""

    ELASTICSEARCH = "elasticsearch"
    OPENSEARCH = "opensearch"

    @property
    def title(self) -> str:  # type: ignore[override]
        """As people write it."""
        return {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}[self.value]


#: The major versions TrailQL is tested on, by engine.
SUPPORTED: dict[Engine, tuple[int, ...]] = {
    Engine.ELASTICSEARCH: (8, 9),
    Engine.OPENSEARCH: (2,),
}

#: What ``ELASTICSEARCH_ENGINE`` accepts besides ``auto``.
ENGINE_NAMES = tuple(
    f"{engine.value}-{major}" for engine, majors in SUPPORTED.items() for major in majors
)

#: The one request that tells the engines apart: every one answers it, with its version.
PROBE_PATH = "/_nodes/_local?filter_path=nodes.*.version"

_FORBIDDEN = 403

#: OpenSearch's versions are 1 to 3; a server that does not name itself and says 5 to 7 is an
#: Elasticsearch from before X-Elastic-Product (7.14).
_FIRST_UNNAMED_ELASTICSEARCH = 5

_SUPPORTED_TEXT = " and ".join(
    f"{engine.title} {', '.join(map(str, majors))}" for engine, majors in SUPPORTED.items()
)

#: The major version elasticsearch-py speaks to unchanged.
CLIENT_MAJOR = int(elasticsearch_version.split(".", 1)[0])

#: OpenSearch's nesting limit on the indices TrailQL makes: above the 254 levels the indexer
#: lets a record nest (schema.document.MAX_NESTING), below Jackson's own 1,000.
OPENSEARCH_DEPTH_LIMIT = 300


class UnsupportedEngineError(Exception):
    """The server is an engine or a version TrailQL does not run on."""


@dataclass(frozen=True, order=True)
class Server:
    """An engine and its version, as the server reports it (or as a setting names it)."""

    engine: Engine
    version: str

    @property
    def major(self) -> int:
        """The major version, which decides what the server understands."""
        return int(self.version.split(".", 1)[0])

    def __str__(self) -> str:
        return f"{self.engine.title} {self.version}"

    @classmethod
    def named(cls, name: str) -> Server:
        """The server ``ELASTICSEARCH_ENGINE`` names, such as ``opensearch-2``."""
        engine, _, major = name.partition("-")
        if name not in ENGINE_NAMES:
            raise UnsupportedEngineError(
                f"unknown engine {name!r}: use auto or one of {', '.join(ENGINE_NAMES)}"
            )
        return cls(Engine(engine), major)

    def checked(self) -> Server:
        """Itself when supported; UnsupportedEngineError saying what is, otherwise."""
        if self.major not in SUPPORTED[self.engine]:
            raise UnsupportedEngineError(
                f"{self} is not supported: TrailQL runs on {_SUPPORTED_TEXT}"
            )
        return self


#: Probe answers that say nothing of the engine, only that the request would fail the same
#: way: they are the request's answer, and the client raises them as it always does.
PASSED_ON = frozenset({401, 408, 429, 500, 502, 503, 504})

_ASK_FOR_THE_SETTING = (
    "set ELASTICSEARCH_ENGINE to elasticsearch-9, elasticsearch-8 or opensearch-2 to say which"
)


def server_from_probe(status: int, headers: Mapping[str, str], body: Any) -> Server | None:
    """The server behind a probe's answer; None for an answer in :data:`PASSED_ON`.

    Elasticsearch marks every answer ``X-Elastic-Product: Elasticsearch``; OpenSearch none.
    Without the right to read node information (403), Elasticsearch is taken to be 9; an
    OpenSearch cannot be told from anything else, and the setting must say.
    """
    elasticsearch = headers.get("x-elastic-product") == "Elasticsearch"
    engine = Engine.ELASTICSEARCH if elasticsearch else Engine.OPENSEARCH
    if status == _FORBIDDEN and elasticsearch:
        return Server(engine, "9")
    if status in PASSED_ON:
        return None
    nodes = body.get("nodes") if 200 <= status < 300 and isinstance(body, dict) else None  # noqa: PLR2004
    versions = [
        node["version"]
        for node in (nodes.values() if isinstance(nodes, dict) else ())
        if isinstance(node, dict) and isinstance(node.get("version"), str)
    ]
    if not versions:
        raise UnsupportedEngineError(
            f"cannot tell which engine this is: GET /_nodes/_local answered {status} without "
            f"a version (credentials that may not read node information?); {_ASK_FOR_THE_SETTING}"
        )
    # During a rolling upgrade, the oldest node decides what every node understands.
    oldest = min(versions, key=lambda version: tuple(int(n) for n in re.findall(r"\d+", version)))
    server = Server(engine, oldest)
    if not elasticsearch and server.major >= _FIRST_UNNAMED_ELASTICSEARCH:
        raise UnsupportedEngineError(
            f"Elasticsearch {oldest} (older than 7.14, which names itself) is not supported: "
            f"TrailQL runs on {_SUPPORTED_TEXT}"
        )
    return server.checked()


_VERSIONED_MEDIA = re.compile(r"application/vnd\.elasticsearch\+([\w-]+); ?compatible-with=\d+")
_PIT_OPEN = re.compile(r"^(/[^/?]+)/_pit(\?.*)?$")
_TEMPLATE = re.compile(r"^/_index_template/[^/?]+(\?.*)?$")
_MAPPING = re.compile(r"^/[^/?]+/_mapping(\?.*)?$")
_INDEX = re.compile(r"^/[^_/?][^/?]*(\?.*)?$")


class Dialect:
    """How one engine is asked: what is changed on the way out and on the way back."""

    def __init__(self, server: Server) -> None:
        self.server = server
        opensearch = server.engine is Engine.OPENSEARCH
        #: Asked exactly as the client asks (Elasticsearch 9): nothing to translate either way.
        self.passthrough = server.engine is Engine.ELASTICSEARCH and server.major == CLIENT_MAJOR
        self._media = (
            r"application/\1"
            if opensearch
            else rf"application/vnd.elasticsearch+\1; compatible-with={server.major}"
        )
        self._opensearch = opensearch

    def request(
        self, method: str, target: str, headers: Mapping[str, str], body: Any
    ) -> tuple[str, dict[str, str], Any]:
        """The request as this engine takes it."""
        sent = {
            name: _VERSIONED_MEDIA.sub(self._media, value)
            if name.lower() in {"accept", "content-type"}
            else value
            for name, value in headers.items()
        }
        if not self._opensearch:
            return target, sent, body
        if method == "POST" and (match := _PIT_OPEN.match(target)):
            return f"{match[1]}/_search/point_in_time{match[2] or ''}", sent, body
        if method == "DELETE" and target.split("?", 1)[0] == "/_pit":
            pit = body.get("id") if isinstance(body, dict) else None
            return "/_search/point_in_time", sent, {"pit_id": [pit]}
        if method in {"PUT", "POST"} and isinstance(body, dict):
            if _TEMPLATE.match(target):
                body = {k: v for k, v in body.items() if k != "ignore_missing_component_templates"}
            if _TEMPLATE.match(target) and isinstance(body.get("template"), dict):
                body = {**body, "template": _opensearch_index(body["template"])}
            elif _MAPPING.match(target):
                body = flat_objects(body)
            elif method == "PUT" and _INDEX.match(target):
                body = _opensearch_index(body)
        return target, sent, body

    def preliminaries(self, method: str, target: str, body: Any) -> list[tuple[str, str, Any]]:
        """Requests to send first, whose answers do not matter (say, what already exists)."""
        if not (self._opensearch and method in {"PUT", "POST"} and _TEMPLATE.match(target)):
            return []
        if not isinstance(body, dict) or not body.get("ignore_missing_component_templates"):
            return []
        return [
            ("PUT", f"/_component_template/{name}?create=true", {"template": {}})
            for name in body["ignore_missing_component_templates"]
        ]

    def response(
        self, method: str, target: str, answer: TransportApiResponse
    ) -> TransportApiResponse:
        """The answer as the client and everything above it expect it."""
        if not self._opensearch:
            return answer
        meta, body = answer
        status = meta.status
        if method == "POST" and _PIT_OPEN.match(target) and isinstance(body, dict):
            if body.get("pit_id") is None:
                # Over no index at all, OpenSearch opens a point in time without an id, which
                # every search then refuses; Elasticsearch answers 404, as this does.
                status = 404
                reason = "no index to open a point in time over"
                body = {"error": {"type": "index_not_found_exception", "reason": reason}}
            else:
                body = {**body, "id": body["pit_id"]}
        headers = meta.headers.copy()
        # The client refuses a 2xx answer without it; the probe has already told the engine.
        headers["x-elastic-product"] = "Elasticsearch"
        meta = ApiResponseMeta(
            status=status,
            http_version=meta.http_version,
            headers=headers,
            duration=meta.duration,
            node=meta.node,
        )
        return TransportApiResponse(meta, body)


def _opensearch_index(body: dict[str, Any]) -> dict[str, Any]:
    """An index's (or a template's) settings and mappings as OpenSearch takes them."""
    settings = body.get("settings")
    settings = dict(settings) if isinstance(settings, dict) else {}
    settings.setdefault("index.mapping.depth.limit", OPENSEARCH_DEPTH_LIMIT)
    translated = {**body, "settings": settings}
    if isinstance(body.get("mappings"), dict):
        translated["mappings"] = flat_objects(body["mappings"])
    return translated


def flat_objects(mapping: dict[str, Any]) -> dict[str, Any]:
    """A mapping (or one field's) with every ``flattened`` field made ``flat_object``.

    Walked by ``properties`` and ``fields`` only: a field may well be named ``type``.
    """
    if mapping.get("type") == "flattened":
        return {"type": "flat_object"}
    translated = dict(mapping)
    for children in ("properties", "fields"):
        named = mapping.get(children)
        if isinstance(named, dict):
            translated[children] = {
                name: flat_objects(field) if isinstance(field, dict) else field
                for name, field in named.items()
            }
    return translated


def _probe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's own credentials, in a media type every engine takes."""
    kept = {name: value for name, value in headers.items() if name.lower() == "authorization"}
    return {**kept, "accept": "application/json"}


def _json(headers: Mapping[str, str]) -> dict[str, str]:
    """The same, for a request with a JSON body."""
    return {**_probe_headers(headers), "content-type": "application/json"}


class _Probing:
    """What the sync and async transports share: the dialect, once the server is known."""

    #: Set by :func:`transport_classes` from ``ELASTICSEARCH_ENGINE``; None: ask the server.
    named: ClassVar[Server | None] = None
    #: Set when requests are signed with AWS SigV4 for this endpoint (its base URL).
    signer: ClassVar[AwsSigner | None] = None
    endpoint: ClassVar[str] = ""
    dialect: Dialect | None
    serializers: SerializerCollection

    def _outgoing(
        self, method: str, target: str, headers: Mapping[str, str], body: Any
    ) -> tuple[HttpHeaders, Any]:
        """The headers and body to send: signed, over the body's own bytes, when signing."""
        if self.signer is None:
            return HttpHeaders(headers), body
        unsigned = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        payload = None
        if body is not None:
            # By its mimetype (looked up whatever its case): a _bulk's or an msearch's NDJSON.
            mimetype = HttpHeaders(unsigned).get("content-type")
            payload = self.serializers.dumps(body, mimetype=mimetype)
        signed = self.signer.headers(method, f"{self.endpoint}{target}", unsigned, payload)
        return HttpHeaders({**unsigned, **signed}), payload

    def _learn(self, answer: TransportApiResponse) -> Dialect | None:
        server = server_from_probe(answer.meta.status, answer.meta.headers, answer.body)
        if server is not None:
            self.dialect = Dialect(server)
        return self.dialect


class EngineTransport(_Probing, Transport):
    """elasticsearch-py's transport, speaking the dialect of the engine behind it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dialect = Dialect(self.named) if self.named is not None else None

    def perform_request(
        self, method: str, target: str, *, body: Any = None, headers: Any = None, **options: Any
    ) -> TransportApiResponse:
        """The request in the engine's dialect, after the probe on the first one."""
        given: Mapping[str, str] = headers or {}
        dialect = self.dialect
        if dialect is not None and dialect.passthrough and self.signer is None:
            return super().perform_request(method, target, body=body, headers=headers, **options)
        if dialect is None:
            sent, _ = self._outgoing("GET", PROBE_PATH, _probe_headers(given), None)
            probe = super().perform_request("GET", PROBE_PATH, headers=sent, **options)
            dialect = self._learn(probe)
            if dialect is None:
                return probe
        for verb, path, content in dialect.preliminaries(method, target, body):
            sent, payload = self._outgoing(verb, path, _json(given), content)
            super().perform_request(verb, path, body=payload, headers=sent, **options)
        path, translated, body = dialect.request(method, target, given, body)
        sent, payload = self._outgoing(method, path, translated, body)
        answer = super().perform_request(method, path, body=payload, headers=sent, **options)
        return dialect.response(method, target, answer)  # what was asked, not what was sent


class AsyncEngineTransport(_Probing, AsyncTransport):
    """The same, for the API's async client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dialect = Dialect(self.named) if self.named is not None else None

    async def perform_request(  # type: ignore[override]
        self, method: str, target: str, *, body: Any = None, headers: Any = None, **options: Any
    ) -> TransportApiResponse:
        """The same, awaited."""
        given: Mapping[str, str] = headers or {}
        dialect = self.dialect
        if dialect is not None and dialect.passthrough and self.signer is None:
            return await super().perform_request(
                method, target, body=body, headers=headers, **options
            )
        if dialect is None:
            sent, _ = self._outgoing("GET", PROBE_PATH, _probe_headers(given), None)
            probe = await super().perform_request("GET", PROBE_PATH, headers=sent, **options)
            dialect = self._learn(probe)
            if dialect is None:
                return probe
        for verb, path, content in dialect.preliminaries(method, target, body):
            sent, payload = self._outgoing(verb, path, _json(given), content)
            await super().perform_request(verb, path, body=payload, headers=sent, **options)
        path, translated, body = dialect.request(method, target, given, body)
        sent, payload = self._outgoing(method, path, translated, body)
        answer = await super().perform_request(method, path, body=payload, headers=sent, **options)
        return dialect.response(method, target, answer)  # what was asked, not what was sent


def transport_classes(
    named: Server | None, signer: AwsSigner | None = None, endpoint: str = ""
) -> tuple[type[EngineTransport], type[AsyncEngineTransport]]:
    """Transport classes that speak to ``named``, or to whatever the server says it is.

    With ``signer``, every request to ``endpoint`` (a base URL) is signed with AWS SigV4.
    """
    attributes = {"named": named, "signer": signer, "endpoint": endpoint.rstrip("/")}
    return (
        type("NamedEngineTransport", (EngineTransport,), attributes),
        type("NamedAsyncEngineTransport", (AsyncEngineTransport,), attributes),
    )
