"""App config for the editors' app: wires rule changes to the audit trail and rules version."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save, pre_save


class EditorialConfig(AppConfig):
    name = "editorial"
    verbose_name = "Editorial rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from editorial.models import NudgeSetting, Rule, RuleSet
        from editorial.nudges import EditorialNudges, nudge_policies_clear
        from editorial.providers import EditorialExperiments, EditorialRules
        from editorial.signals import after_delete, after_save, before_save
        from newsrec import providers

        # newsrec asks editorial for the live rules and experiment arms through these
        providers.register(
            rules=EditorialRules(), experiments=EditorialExperiments(), nudges=EditorialNudges()
        )
        for signal in (post_save, post_delete):
            signal.connect(nudge_policies_clear, sender=NudgeSetting, dispatch_uid="nudges-memo")

        for model in (Rule, RuleSet):
            name = model.__name__
            pre_save.connect(before_save, sender=model, dispatch_uid=f"rules-before-{name}")
            post_save.connect(after_save, sender=model, dispatch_uid=f"rules-changed-save-{name}")
            post_delete.connect(
                after_delete, sender=model, dispatch_uid=f"rules-changed-del-{name}"
            )
