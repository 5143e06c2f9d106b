# TrailQL: the API and the indexer in one slim, non-root image.
# No Docker engine runs on our development machines; this file is kept plain and is not
# built in CI (see README, "Docker").
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY generator generator
COPY common common
COPY indexer indexer
COPY schema schema
COPY trailql trailql
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin trailql
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Authentication stays on in the image: give the API TRAILQL_API_KEYS or TRAILQL_API_KEYS_FILE,
# or TRAILQL_JWT_* (README, "Security and operations"); without one it refuses to start.
ENV TRAILQL_AUTH_DISABLED=false
USER trailql
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["trailql"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
