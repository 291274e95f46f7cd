"""App config for newsrec: registers system checks and CMS mirroring signals."""

from django.apps import AppConfig


class NewsrecConfig(AppConfig):
    name = "newsrec"
    verbose_name = "News recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from newsrec import checks  # noqa: F401  (registers system checks)
