"""Web-side services: the cache, background jobs (managers, the Celery app, the one job
runner) and the store of trained runs. May import flask_caching, Dash managers and Celery;
the library (polyviz) never imports this package."""
