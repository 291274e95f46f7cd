"""Runnable demo site around the newsrec and editorial apps."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
