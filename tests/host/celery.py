"""The host's own Celery app (as a host project has), configured from its Django settings."""

from celery import Celery

app = Celery("host")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
