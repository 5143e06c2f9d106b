# TrailQL: the API and the indexer in one slim, non-root image.
# BASE is any Debian-like image with Python 3.11 as `python` (and its venv module): the official
# slim image by default; scripts/check-image builds one with debootstrap, where no registry of
# images can be reached, and checks the result (README, "Docker").
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# A CA bundle for pip, for a build behind a TLS-inspecting proxy (scripts/check-image mounts
# the host's); this stage only, so it never reaches the image.
ARG PIP_CERT
WORKDIR /src
# Exactly the locked versions, hash-checked (requirements/runtime.txt), in a venv of their own.
RUN python -m venv /opt/trailql
COPY requirements/runtime.txt requirements/runtime.txt
RUN /opt/trailql/bin/pip install --no-cache-dir ${PIP_CERT:+--cert "$PIP_CERT"} \
        --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY api api
COPY generator generator
COPY common common
COPY detections detections
COPY indexer indexer
COPY integrity integrity
COPY schema schema
COPY trailql trailql
# GraphiQL's files ship inside the package (api/static/graphiql): no Node.js stage.
RUN /opt/trailql/bin/pip wheel --no-cache-dir ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps \
        --wheel-dir /wheels . \
    && /opt/trailql/bin/pip install --no-cache-dir --no-deps /wheels/*.whl \
    && /opt/trailql/bin/pip uninstall --yes --quiet pip setuptools

FROM ${BASE}
RUN useradd --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --no-log-init trailql
COPY --from=build /opt/trailql /opt/trailql
ENV PATH=/opt/trailql/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1
# Authentication stays on in the image: give the API TRAILQL_API_KEYS or TRAILQL_API_KEYS_FILE,
# or TRAILQL_JWT_* (README, "Security and operations"); without one it refuses to start.
ENV TRAILQL_AUTH_DISABLED=false
USER trailql
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["trailql"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
