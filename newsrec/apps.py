"""App config for newsrec: registers system checks and CMS mirroring signals."""

from django.apps import AppConfig


class NewsrecConfig(AppConfig):
    name = "newsrec"
    verbose_name = "News recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: system checks and the login merge receiver.
        from newsrec import checks, receivers  # noqa: F401
