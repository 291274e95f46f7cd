"""App config for the editors' app."""

from django.apps import AppConfig


class EditorialConfig(AppConfig):
    name = "editorial"
    verbose_name = "Editorial rules"
    default_auto_field = "django.db.models.BigAutoField"
