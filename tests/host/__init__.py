"""A minimal host project installing newsrec and editorial (see settings.py)."""

from tests.host.celery import app as celery_app

__all__ = ["celery_app"]
