"""The API's authentication, set up for the benchmark: one fresh key that sees every account.

The benchmark measures the API as it is deployed, with a key checked on every request.
"""

from __future__ import annotations

from api.keys import EVERY_ACCOUNT_MARK, hash_line, mint_key

API_KEY_HEADER = "x-api-key"


def bench_key() -> tuple[dict[str, str], dict[str, str]]:
    """The server's environment (the key's hash line) and the client's headers (the key).

    The key has no rate limit: the benchmark measures what the API can serve.
    """
    key = mint_key()
    line = hash_line("trailql-bench", key, [EVERY_ACCOUNT_MARK])
    server = {
        "TRAILQL_API_KEYS": line,
        "TRAILQL_AUTH_DISABLED": "false",
        "TRAILQL_RATE_LIMITS": "trailql-bench=0/1",
        "TRAILQL_MAX_CONCURRENT_REQUESTS": "0",
    }
    return server, {API_KEY_HEADER: key}
