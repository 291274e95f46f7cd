"""App config for newsrec: registers system checks, the login merge and the HNSW session setup."""

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def hnsw_session_setup(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Once per database connection (not per query): HNSW search breadth and iterative scans,
    so that filtered nearest-neighbour queries return enough rows without extra round trips."""
    if connection.vendor != "postgresql":
        return
    from newsrec.conf import newsrec_settings

    ef_search = int(newsrec_settings.HNSW_EF_SEARCH)
    with connection.cursor() as cursor:
        cursor.execute(f"SET hnsw.ef_search = {ef_search}; SET hnsw.iterative_scan = relaxed_order")


class NewsrecConfig(AppConfig):
    name = "newsrec"
    verbose_name = "News recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: system checks and the login merge receiver.
        from newsrec import checks, logs, metrics, receivers  # noqa: F401

        metrics.connect_signals()
        logs.connect_signals()
        connection_created.connect(hnsw_session_setup, dispatch_uid="newsrec-hnsw-session")
