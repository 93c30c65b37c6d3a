# syntax=docker/dockerfile:1
# SafeChat image: `docker build -t safechat .` then see docs/deploy.md.
# Production defaults: JSON logs, listens on 0.0.0.0:3001, runs as an unprivileged user,
# expects MONGODB_URI and ENCRYPTION_KEYS (and usually CLERK_*, REDIS_URL, S3_*).

ARG PYTHON_IMAGE=python:3.12.11-slim-bookworm

# ---- build: a self-contained virtualenv with SafeChat and its dependencies -------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# Extras to install, e.g. --build-arg SAFECHAT_EXTRAS=embedded for the embedded
# SecantusDB (GPL-2.0, a separate program; not needed with MONGODB_URI).
ARG SAFECHAT_EXTRAS=""

WORKDIR /src
RUN python -m venv /opt/safechat

COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/safechat/bin/pip install --no-cache-dir ".${SAFECHAT_EXTRAS:+[${SAFECHAT_EXTRAS}]}" \
    && /opt/safechat/bin/safechat --version

# ---- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="SafeChat" \
      org.opencontainers.image.description="Self-hostable real-time messaging backend (Socket.IO + REST over MongoDB)" \
      org.opencontainers.image.licenses="MIT"

RUN groupadd --system --gid 10001 safechat \
    && useradd --system --uid 10001 --gid safechat --no-create-home \
       --home-dir /var/lib/safechat --shell /usr/sbin/nologin safechat \
    && install -d -o safechat -g safechat -m 0700 /var/lib/safechat

COPY --from=build /opt/safechat /opt/safechat

ENV PATH=/opt/safechat/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SAFECHAT_ENV=production \
    SAFECHAT_LOG_FORMAT=json \
    SAFECHAT_HOST=0.0.0.0 \
    SAFECHAT_PORT=3001 \
    SAFECHAT_DATA_DIR=/var/lib/safechat

WORKDIR /var/lib/safechat
USER 10001:10001
EXPOSE 3001

# No curl in slim images: Python asks /health and wants {"status": "ok"} (database reachable).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import json,os,sys,urllib.request as u; r=u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SAFECHAT_PORT', '3001'), timeout=4); sys.exit(0 if json.load(r).get('status') == 'ok' else 1)"]

# SIGTERM reaches safechat directly (exec form) and it shuts down gracefully.
STOPSIGNAL SIGTERM
ENTRYPOINT ["safechat"]
CMD ["serve"]
