# syntax=docker/dockerfile:1
# liblib-discord-bot. Build from the repository alone:   docker build -t liblib-discord-bot .
# Run it with docker-compose.example.yml, or:
#   docker run -d --name liblib-bot -e DISCORD_TOKEN -e LIBLIB_ACCESS_KEY -e LIBLIB_SECRET_KEY \
#       -v liblib-bot-data:/data liblib-discord-bot

# ---- builder: a virtualenv with the locked dependencies, then the bot -----------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from the lock (exact versions; the dev tools in it are left out), so this layer
# is rebuilt only when the lock or the dependency list changes.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > runtime-requirements.txt \
    && pip install -c requirements.lock -r runtime-requirements.txt

# The source last: editing the code rebuilds only this layer.
COPY README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

# ---- runtime: the virtualenv on a slim base, as an unprivileged user -----------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    MPLCONFIGDIR=/tmp/matplotlib \
    LIBBOT_DEFAULTS_FILE=/etc/liblib-bot/defaults.toml
# The container's defaults live in a defaults file, below /app/config.toml and the environment: a mounted
# config.toml can change them (say [storage] url to PostgreSQL), which environment variables here could not.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app bot \
    && mkdir -p /data /app /etc/liblib-bot \
    && chown bot:bot /data \
    && printf '%s\n' '[storage]' 'url = "sqlite:////data/bot.db"' '[metrics]' 'enabled = true' 'host = "0.0.0.0"' \
        'port = 9108' > /etc/liblib-bot/defaults.toml
COPY --from=builder /opt/venv /opt/venv
# An optional settings file goes to /app/config.toml (mount it read-only); secrets come from the environment.
WORKDIR /app
USER bot
# The SQLite database (jobs, quotas): keep it on a volume so restarts resume unfinished jobs.
VOLUME ["/data"]
# Prometheus /metrics and /healthz ([metrics]); publish it only if something scrapes it.
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "bot.ops.health"]
# `docker stop` sends SIGTERM: the bot stops taking jobs and saves running ones for the next start.
STOPSIGNAL SIGTERM
ENTRYPOINT ["liblib-bot"]
CMD ["run"]
