# Production image: gunicorn serving app:server. Build: docker build -t polyviz .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POLYVIZ_DATA_DIR=/data \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1

WORKDIR /app

# PyTorch from its CPU wheel index first, so nothing pulls the CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY polyviz ./polyviz
RUN pip install '.[scale]'

COPY app.py gunicorn.conf.py ./
COPY layouts ./layouts
COPY services ./services
COPY callbacks ./callbacks
COPY assets ./assets

RUN useradd --create-home --uid 10001 polyviz \
    && mkdir -p /data && chown polyviz:polyviz /data
USER polyviz

EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8050/health', timeout=4).status == 200 else 1)"

CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:server"]
