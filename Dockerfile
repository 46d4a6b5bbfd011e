# One container runs what `make run` runs: bin/run = bin/prepare, then bin/web (gunicorn on
# 3017), bin/worker (qcluster) and bin/evaluator (run_evaluator) together; if one dies the
# container stops. docker-compose.yml runs them as separate services instead (web: bin/prepare +
# bin/web, worker: bin/worker, evaluator: bin/evaluator).
# Docker does not run on the development machine; keep this thin and in step with bin/.
FROM python:3.11-slim

# BIND: listen on every interface of the container (gunicorn binds loopback by default).
# ENV_FILE: secrets bin/prepare generates when none are given land in var/ (mount a volume
# there to keep them, with the SQLite database, across container re-creation).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=3017 BIND=0.0.0.0 VAR_DIR=/app/var \
    ENV_FILE=/app/var/.env
WORKDIR /app
RUN useradd --create-home --uid 10001 monitoring
COPY requirements.txt .
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
RUN mkdir -p var && chown -R monitoring:monitoring /app/var
USER monitoring
EXPOSE 3017
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3017\")}/status', timeout=4)"
CMD ["bin/run"]
