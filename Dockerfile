# A small production image: the same `branchstats serve` as the README.
FROM python:3.11-slim

# "Today" (risk, units of today, the day's status refresh) is Vietnam's day: UTC+7, no
# daylight saving, written the POSIX way so that it needs no time zone database.
ENV TZ=ICT-7 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    WORKERS=1 \
    PORT=8000

RUN useradd --create-home --uid 10001 branchstats \
    && mkdir -p /data && chown branchstats /data

WORKDIR /srv/branchstats
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY seed ./seed
RUN pip install -e . && chown -R branchstats /srv/branchstats

USER branchstats
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"

# Migrates and seeds (idempotent), then serves with uvicorn.
CMD ["sh", "-c", "exec branchstats serve --host 0.0.0.0 --port \"$PORT\" --workers \"$WORKERS\""]
