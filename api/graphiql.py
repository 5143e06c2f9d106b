"""GraphiQL from this server's own files: engineers' browsers may have no internet access.

GraphiQL 3 is the last line published as UMD bundles (``graphiql.min.js``, with React 18's
``umd`` builds): plain ``<script>`` tags, no bundler and no import map. Subscriptions go over
WebSocket through the ``graphql-ws`` client's browser build, with the credential of
GraphiQL's Headers tab as ``connection_init``'s payload. The five files the page needs ship
inside this package (``api/static/graphiql/``, copied from the npm packages that
``package-lock.json`` pins by ``scripts/vendor-graphiql``, and checked against its hashes by
the tests), so ``pip install trailql`` serves GraphiQL with no Node.js anywhere. The route
below serves exactly those five files, never anything else of that folder.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

#: The page's files, inside the installed package.
ASSET_DIRECTORY = Path(__file__).resolve().parent / "static" / "graphiql"


#: The URL prefix of the assets; the page refers to them relative to ``/graphql``.
ASSET_PREFIX = "/graphiql"

#: The files the page loads (under ``/graphiql/``) -> their npm package and path in it.
ASSETS = {
    "react.production.min.js": ("react", "umd/react.production.min.js"),
    "react-dom.production.min.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.min.js": ("graphiql", "graphiql.min.js"),
    "graphiql.min.css": ("graphiql", "graphiql.min.css"),
    "graphql-ws.min.js": ("graphql-ws", "umd/graphql-ws.min.js"),
}

#: Our start-up script's name: served from here, so the page needs no inline script.
START_SCRIPT = "trailql-graphiql.js"

EXAMPLE_QUERY = """\
# TrailQL: who did what to your CloudWatch Logs,
# from where, and when.
#
# The ten newest CloudWatch Logs calls: who made
# each (principal), from where, whether it failed,
# and with which parameters. Run: Ctrl-Enter.
# Next page: pass pageInfo.endCursor as `after`.
# The Docs panel lists every field and filter.
{
  events(
    first: 10
    filter: {eventSource: ["logs.amazonaws.com"]}
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      eventTime eventName principal
      sourceIPAddress errorCode
      userIdentity { type arn }
      requestParameters
    }
  }
}
"""

# The fetcher posts to the page's own URL, so the page works behind any host name or port;
# subscriptions open a WebSocket to the same URL, one per set of headers (the credential
# goes in connection_init), and a close is shown as an error with its code and reason.
_START_SCRIPT_TEXT = f"""\
"use strict";
const url = window.location.origin + window.location.pathname;
const socketUrl = url.replace(/^http/, "ws");
const overHttp = GraphiQL.createFetcher({{ url }});
const sockets = new Map();

function socketFor(headers) {{
  const key = JSON.stringify(headers || {{}});
  if (!sockets.has(key)) {{
    sockets.set(key, graphqlWs.createClient({{
      url: socketUrl, connectionParams: headers || {{}}, lazy: true, retryAttempts: 0,
    }}));
  }}
  return sockets.get(key);
}}

// Read from the text being sent, not GraphiQL's documentAST, which can still be the previous
// document's when Run is pressed right after an edit. Strings and comments are blanked first.
const IGNORED = /"{{3}}[\\s\\S]*?"{{3}}|"(?:[^"\\\\]|\\\\.)*"|#[^\\n\\r]*/g;
const OPERATION = /(?:^|[{{}}\\s])(query|mutation|subscription)\\b\\s*([_A-Za-z]\\w*)?/g;
function isSubscription(params) {{
  const operations = [...(params.query || "").replace(IGNORED, " ").matchAll(OPERATION)];
  const named = (match) => match[2] === params.operationName;
  const chosen = params.operationName ? operations.find(named) : operations[0];
  return Boolean(chosen) && chosen[1] === "subscription";
}}

function subscribe(params, headers) {{
  return {{
    subscribe(observer) {{
      const dispose = socketFor(headers).subscribe(params, {{
        next: (value) => observer.next(value),
        error: (error) => observer.error(
          error && error.code ? new Error(`closed: ${{error.code}} ${{error.reason}}`) : error,
        ),
        complete: () => observer.complete(),
      }});
      return {{ unsubscribe: dispose }};
    }},
  }};
}}

function fetcher(params, options) {{
  if (isSubscription(params)) return subscribe(params, options && options.headers);
  return overHttp(params, options);
}}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{
    fetcher,
    defaultQuery: {json.dumps(EXAMPLE_QUERY)},
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  }}),
);
"""

# Everything from this server: a page changed to reach elsewhere fails loudly in the browser.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "  # GraphiQL and CodeMirror set inline styles
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "base-uri 'none'; "
    "form-action 'none'; "
    "frame-ancestors 'none'"
)

_PAGE = f"""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TrailQL · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="graphiql/graphiql.min.css">
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="graphiql/react.production.min.js"></script>
<script src="graphiql/react-dom.production.min.js"></script>
<script src="graphiql/graphiql.min.js"></script>
<script src="graphiql/graphql-ws.min.js"></script>
<script src="graphiql/{START_SCRIPT}"></script>
</body>
</html>
"""

_MISSING_PAGE = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>TrailQL · GraphiQL is not installed</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5">
<h1>GraphiQL is not installed</h1>
<p>This server serves GraphiQL from its own files, never from the internet, and they are
missing from this installation of TrailQL: reinstall it (<code>pip install trailql</code>, or
in a clone <code>scripts/vendor-graphiql</code>), then reload this page.</p>
<p>Missing: {missing}</p>
<p>The API itself works without them: POST queries to this URL.</p>
</body>
</html>
"""


def missing_assets() -> list[Path]:
    """The page's files that are not installed; empty when GraphiQL can be served."""
    return [ASSET_DIRECTORY / name for name in ASSETS if not (ASSET_DIRECTORY / name).is_file()]


def graphiql_page() -> Response:
    """The GraphiQL page, or a page saying how to install it: never a blank page."""
    missing = missing_assets()
    if missing:
        names = ", ".join(f"<code>{html.escape(str(path))}</code>" for path in missing)
        return HTMLResponse(_MISSING_PAGE.format(missing=names), status_code=503)
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _CONTENT_SECURITY_POLICY})


async def graphiql_asset(request: Request) -> Response:
    """One of the page's files; ``no-cache`` so an upgrade is seen on the next load."""
    name: str = request.path_params["name"]
    headers = {"Cache-Control": "no-cache"}
    if name == START_SCRIPT:
        return Response(_START_SCRIPT_TEXT, media_type="text/javascript", headers=headers)
    if name not in ASSETS:
        return PlainTextResponse("Not Found", status_code=404)
    path = ASSET_DIRECTORY / name
    if not path.is_file():
        message = f"{name} is missing from this installation: reinstall TrailQL"
        return PlainTextResponse(message, status_code=404)
    media_type = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media_type, headers=headers)


#: The asset route, beside ``/graphql`` in the application's routes.
graphiql_assets = Route(f"{ASSET_PREFIX}/{{name}}", graphiql_asset, methods=["GET"])
