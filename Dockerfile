# syntax=docker/dockerfile:1
# atrest web app and CLI.
#   docker build -t atrest .
#   docker run -p 8000:8000 -v atrest-data:/data --stop-timeout 30 atrest   # SQLite in /data
#   docker compose up --build                   # PostgreSQL 16 and two app processes (compose.yaml)
# The container runs `atrest serve`: migrations at start (one process at a time on PostgreSQL),
# JSON logs on stderr, /readyz as the health check, graceful stop on SIGTERM (20 s by default,
# ATREST_SHUTDOWN_TIMEOUT; Docker's own stop timeout is 10 s, hence --stop-timeout 30).

# --- builder: the dependencies and atrest in a virtual environment ------------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer. The
# install is editable: the app finds rules/, templates/, static/ and alembic/ next to app/.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && /opt/venv/bin/pip install -e .
COPY app ./app
COPY rules ./rules
COPY templates ./templates
COPY static ./static
COPY alembic ./alembic
COPY alembic.ini ./
RUN /opt/venv/bin/python -m compileall -q app alembic

# --- runtime: the slim image, WeasyPrint's native libraries, a non-root user --------------------
FROM python:3.11-slim AS runtime
# Pango, PangoFT2, HarfBuzz's subsetter and a font: what WeasyPrint needs for PDF reports
# (the same list as scripts/ensure-report-tools.sh, less Poppler, which only the tests use).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 atrest \
    && useradd --system --uid 10001 --gid atrest --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin atrest \
    && mkdir /data && chown atrest:atrest /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ATREST_HOST=0.0.0.0 ATREST_PORT=8000 \
    ATREST_DATABASE_URL=sqlite:////data/atrest.db
USER atrest
VOLUME ["/data"]
EXPOSE 8000
# Ready = the database answers and is migrated to the head. urllib raises on a 503 or a refused
# connection, so the command fails: no curl needed in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('ATREST_PORT', '8000'), timeout=4)" || exit 1
CMD ["atrest", "serve"]
