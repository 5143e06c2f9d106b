from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from common.elastic import Connection

PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
}


def test_configured_origins_may_call_the_api_from_a_browser():
    settings = ApiSettings(cors_origins="https://console.example.com, https://tools.example.com")
    app = create_app(Connection(url="http://127.0.0.1:9"), "trailql-events", settings)
    with TestClient(app) as client:
        allowed = client.options(
            "/graphql", headers={"origin": "https://tools.example.com", **PREFLIGHT}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://tools.example.com"
        refused = client.options(
            "/graphql", headers={"origin": "https://evil.example.net", **PREFLIGHT}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


def test_no_origin_is_allowed_by_default():
    app = create_app(Connection(url="http://127.0.0.1:9"), "trailql-events", ApiSettings())
    with TestClient(app) as client:
        response = client.options(
            "/graphql", headers={"origin": "https://console.example.com", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in response.headers
