# A plain mirror of `make serve`: install, build the sample city, serve it on port 8000.
# Multi-stage: the builder makes a virtual environment and the sample city; the runtime stage copies
# them and runs as a non-root user.
FROM node:20-slim AS viewer
# CesiumJS for /viewer, served locally (no internet or Ion token needed at run time)
WORKDIR /viewer
COPY viewer/package.json viewer/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim AS builder
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY cim ./cim
COPY tiles ./tiles
COPY api ./api
COPY sample_city ./sample_city
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir '.[server,postgis,las,osm,water,flood,sunlight]'
RUN mkdir -p /data && cim sample --store /data/sample.cim.sqlite

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 cim
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=cim:cim /data /data
# the source tree beside the viewer: /viewer serves /app/viewer (api/routers/viewer.py looks next to the package)
COPY --chown=cim:cim cim /app/cim
COPY --chown=cim:cim tiles /app/tiles
COPY --chown=cim:cim api /app/api
COPY --chown=cim:cim sample_city /app/sample_city
COPY --chown=cim:cim viewer /app/viewer
COPY --from=viewer --chown=cim:cim /viewer/node_modules /app/viewer/node_modules
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    CIM_STORE=/data/sample.cim.sqlite \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER cim
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["cim", "serve", "--host", "0.0.0.0", "--port", "8000"]
