# atrest web app and CLI. Build: docker build -t atrest .  Run: docker run -p 8000:8000 atrest
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ATREST_HOST=0.0.0.0 ATREST_DATABASE_URL=sqlite:////data/atrest.db
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir -e .
COPY rules ./rules
COPY templates ./templates
COPY static ./static
COPY alembic.ini ./
COPY alembic ./alembic
RUN useradd --create-home atrest && mkdir /data && chown atrest /data
USER atrest
VOLUME ["/data"]
EXPOSE 8000
CMD ["atrest", "serve"]
