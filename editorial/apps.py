"""App config for the editors' app: wires rule changes to the rules version."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class EditorialConfig(AppConfig):
    name = "editorial"
    verbose_name = "Editorial rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from editorial.models import Rule, RuleSet
        from editorial.signals import rules_changed

        for model in (Rule, RuleSet):
            post_save.connect(
                rules_changed, sender=model, dispatch_uid=f"rules-changed-save-{model.__name__}"
            )
            post_delete.connect(
                rules_changed, sender=model, dispatch_uid=f"rules-changed-del-{model.__name__}"
            )
