# One image for every SolAI process; the command picks the role (api, worker, ingest, bot).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY engine engine
COPY agent agent
COPY bot bot
COPY webapp webapp
COPY workers workers
COPY migrations migrations
COPY locales locales
RUN pip install . && useradd --system --uid 10001 solai
USER solai
EXPOSE 8000
CMD ["solai", "api", "--host", "0.0.0.0", "--port", "8000"]
