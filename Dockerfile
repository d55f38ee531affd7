# syntax=docker/dockerfile:1
# The worker's image: `invoicer run` by default; `invoicer migrate` for the migration job.
#   docker build -t invoicer:0.3.0 .
# Reproducible: pin the base image by digest when building a release, e.g.
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
# (`docker buildx imagetools inspect python:3.11-slim-bookworm` gives the digest.)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build: the project and its runtime dependencies into a virtual environment of their own
# (no pip, no build tools, no dev or test packages in it). Every dependency comes from
# requirements.lock, pinned with its hashes (pip-compile --generate-hashes; docs/operations.md,
# "Deploy"): pip refuses anything else, so the same lock gives the same image.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python -m venv --without-pip /opt/invoicer \
    && python -m venv --without-pip /opt/build
COPY requirements.lock requirements-build.lock ./
RUN pip --python /opt/invoicer/bin/python install --no-cache-dir --no-deps --require-hashes \
        -r requirements.lock \
    && pip --python /opt/build/bin/python install --no-cache-dir --no-deps --require-hashes \
        -r requirements-build.lock
COPY pyproject.toml README.md LICENSE ./
COPY worker ./worker
# The project's wheel, built by the locked hatchling in /opt/build (which stays in this
# stage), then installed alone into /opt/invoicer: no other package is fetched.
RUN pip --python /opt/build/bin/python wheel --no-cache-dir --no-deps --no-build-isolation \
        --wheel-dir /src/dist . \
    && pip --python /opt/invoicer/bin/python install --no-cache-dir --no-deps /src/dist/invoicer-*.whl \
    && /opt/invoicer/bin/python -c "import zoneinfo; zoneinfo.ZoneInfo('Europe/Amsterdam')" \
    && /opt/invoicer/bin/invoicer --help > /dev/null

# Runtime: the slim base, the virtual environment, an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
ARG VERSION=0.3.0
LABEL org.opencontainers.image.title="invoicer" \
      org.opencontainers.image.description="Turns completed orders into numbered invoices: a Kafka worker with PostgreSQL." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
ENV PATH=/opt/invoicer/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INVOICER_HTTP_PORT=8080
# Fallback fonts for the scripts the bundled fonts lack (docs/operations.md, "Documents"):
# Noto for Chinese, Japanese and Korean, Arabic, Hebrew, Thai and Devanagari (Debian
# bookworm's packages, as the base image).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk=1:20220127+repack1-1 fonts-noto-core=20201225-1 \
    && rm -rf /var/lib/apt/lists/*
ENV INVOICER_DOCUMENT_FONTS=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc,/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf,/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf,/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf,/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf
RUN groupadd --system --gid 10001 invoicer \
    && useradd --system --uid 10001 --gid invoicer --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin invoicer
COPY --from=build /opt/invoicer /opt/invoicer
USER 10001:10001
EXPOSE 8080
# SIGTERM: the batch in hand is finished and committed, the outbox flushed, exit 0
# (allow it 60 s: docker stop -t 60, compose stop_grace_period, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INVOICER_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["invoicer"]
CMD ["run"]
