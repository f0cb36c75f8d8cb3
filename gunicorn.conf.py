"""gunicorn settings shared by the Dockerfile's CMD and the gunicorn test.

Environment: POLYVIZ_BIND (default 0.0.0.0:8050), POLYVIZ_WORKERS (default 2),
POLYVIZ_THREADS (default 4), POLYVIZ_TIMEOUT (default 60 s).
"""

import os

bind = os.environ.get("POLYVIZ_BIND", "0.0.0.0:8050")
workers = int(os.environ.get("POLYVIZ_WORKERS", "2"))
threads = int(os.environ.get("POLYVIZ_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("POLYVIZ_TIMEOUT", "60"))
graceful_timeout = 10
max_requests = 2000  # recycle workers now and then so a slow leak can never take one down
max_requests_jitter = 200
accesslog = None
errorlog = "-"
loglevel = os.environ.get("POLYVIZ_LOG_LEVEL", "info")
# One BLAS / torch thread per worker: several workers on few cores must not oversubscribe
# them (a 2-thread matvec under contention was measured 10x slower than a 1-thread one).
raw_env = ["OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"]
# gunicorn >= 24 opens a control socket at one fixed path per user; several instances on
# one host (or a read-only home in a container) would collide on it, and nothing uses it.
control_socket_disable = True
