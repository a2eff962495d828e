# mjbot: the bot in a slim Python image, running as uid 10001.
# Build:  docker build -t mjbot .
# Run:    docker run -d --name mjbot --restart unless-stopped --env-file secrets.env \
#           -v mjbot-data:/data mjbot
# Configuration comes from MJBOT_* variables, or from a config.toml mounted at /data/config.toml.
# /data holds the SQLite database (and the optional config.toml). See README.md, "Docker".
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/mjbot \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    MJBOT_STORAGE__PATH=/data/mjbot.sqlite3 \
    MJBOT_METRICS__ENABLED=true \
    MJBOT_METRICS__HOST=0.0.0.0 \
    MJBOT_METRICS__PORT=9108

RUN groupadd --gid 10001 mjbot \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/mjbot \
        --shell /usr/sbin/nologin mjbot \
    && mkdir -p /data \
    && chown 10001:10001 /data

WORKDIR /app
# The dependencies alone, at the versions in requirements.lock: this layer is reused by every
# build until the lock file changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
# Then the project itself, with no further dependency resolution.
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip install --no-cache-dir --no-deps .

USER 10001:10001
# The working directory: `mjbot run` reads ./config.toml when one is mounted here.
WORKDIR /data
VOLUME ["/data"]
# 9108: /healthz and /metrics; 8080: the optional notifyHook receiver.
EXPOSE 9108 8080

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]

ENTRYPOINT ["mjbot"]
CMD ["run"]
