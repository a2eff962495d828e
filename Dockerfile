# mjbot: the bot in a slim Python image, running as a non-root user.
# Build:  docker build -t mjbot .
# Run:    docker run -d --name mjbot -v mjbot-data:/data -e MJBOT_DISCORD__TOKEN=... \
#           -e MJBOT_MIDJOURNEY__API_KEY=... mjbot
# /data holds config.toml (copy config.example.toml there) and the SQLite database.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MJBOT_STORAGE__PATH=/data/mjbot.sqlite3

RUN groupadd --system --gid 10001 mjbot \
    && useradd --system --uid 10001 --gid mjbot --home-dir /data --shell /usr/sbin/nologin mjbot \
    && mkdir -p /data /app \
    && chown mjbot:mjbot /data

WORKDIR /app
# The same install as README: `pip install .` from the repository's own files.
COPY pyproject.toml README.md config.example.toml ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip install . && cp config.example.toml /data/config.example.toml

USER mjbot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["mjbot"]
CMD ["run", "--config", "/data/config.toml"]
