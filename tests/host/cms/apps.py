from django.apps import AppConfig


class CmsConfig(AppConfig):
    """A host's own CMS: a custom user model and a story model mirrored into newsrec."""

    name = "tests.host.cms"
    label = "cms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from newsrec import registry
        from tests.host.cms.models import Story

        registry.register(
            Story, fields={"title": "headline", "lead": "standfirst", "section": "desk"}
        )
