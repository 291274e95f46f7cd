"""Mirror any host CMS model into the newsrec catalogue on save and delete.

Register a model with an adapter that maps its fields::

    from newsrec import registry

    @registry.register(Story)
    class StoryAdapter(registry.ArticleAdapter):
        def to_article(self, story):
            return {
                "title": story.headline,
                "lead": story.standfirst,
                "body": story.text,
                "section": story.desk.name,
                "published_at": story.first_published,
                "status": "published" if story.live else "draft",
                "url": story.get_full_url(),
            }

or, for plain attribute mappings, ``registry.register(Story, fields={"title": "headline",
"section": "desk.name"})``. Every save upserts after the CMS transaction commits, through the same
validation as the API and importers; a row the validation rejects is logged and never breaks the
CMS save. Deleting the CMS object deletes the article.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

_registry: dict[type[models.Model], ArticleAdapter] = {}


class ArticleAdapter:
    """Maps one CMS model instance to newsrec article fields; override ``to_article``."""

    #: Optional attribute map {newsrec field: dotted attribute path on the instance}.
    fields: Mapping[str, str] = {}

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model

    def external_id(self, instance: models.Model) -> str:
        """Stable id in the catalogue; defaults to "<app_label>.<model>:<pk>"."""
        return f"{instance._meta.label_lower}:{instance.pk}"

    def should_mirror(self, instance: models.Model) -> bool:
        """Return False to skip an instance entirely (it is then removed from the catalogue)."""
        return True

    def to_article(self, instance: models.Model) -> dict[str, Any]:
        """Return the article fields (see newsrec.ingest.validate_article); override this."""
        if not self.fields:
            raise NotImplementedError(".to_article() must be overridden, or `fields` given")
        return {name: _resolve(instance, path) for name, path in self.fields.items()}

    def row(self, instance: models.Model) -> dict[str, Any]:
        return {**self.to_article(instance), "external_id": self.external_id(instance)}


def _resolve(instance: Any, path: str) -> Any:
    value = instance
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
        if callable(value) and not isinstance(value, models.Manager):
            value = value()
    if isinstance(value, models.Manager):
        return [str(item) for item in value.all()]
    return value


def register(
    model: type[models.Model],
    adapter: type[ArticleAdapter] | None = None,
    *,
    fields: Mapping[str, str] | None = None,
) -> Any:
    """Register ``model`` for mirroring; usable as a class decorator on the adapter."""

    def attach(adapter_class: type[ArticleAdapter]) -> type[ArticleAdapter]:
        instance = adapter_class(model)
        if fields is not None:
            instance.fields = dict(fields)
        _registry[model] = instance
        uid = f"newsrec-mirror-{model._meta.label_lower}"
        post_save.connect(_on_save, sender=model, dispatch_uid=uid, weak=False)
        post_delete.connect(_on_delete, sender=model, dispatch_uid=uid, weak=False)
        return adapter_class

    if adapter is not None or fields is not None:
        attach(adapter or ArticleAdapter)
        return adapter or ArticleAdapter
    return attach


def unregister(model: type[models.Model]) -> None:
    uid = f"newsrec-mirror-{model._meta.label_lower}"
    post_save.disconnect(sender=model, dispatch_uid=uid)
    post_delete.disconnect(sender=model, dispatch_uid=uid)
    _registry.pop(model, None)


def adapter_for(model: type[models.Model]) -> ArticleAdapter | None:
    return _registry.get(model)


def mirror(instance: models.Model) -> None:
    """Upsert (or remove) the catalogue article for one CMS instance, now."""
    from newsrec import services

    adapter = _registry[type(instance)]
    if not adapter.should_mirror(instance):
        services.article_delete(external_id=adapter.external_id(instance))
        return
    report = services.article_upsert_many(rows=[adapter.row(instance)])
    for rejection in report.rejected:
        logger.warning(
            "newsrec did not mirror %s %s: %s",
            instance._meta.label, instance.pk, rejection.reasons,
        )  # fmt: skip


def _on_save(
    sender: type[models.Model], instance: models.Model, raw: bool = False, **kw: Any
) -> None:
    if raw:  # loaddata: fixtures are mirrored by `newsrec_import` or a later save
        return
    transaction.on_commit(lambda: mirror(instance))


def _on_delete(sender: type[models.Model], instance: models.Model, **kw: Any) -> None:
    from newsrec import services

    external_id = _registry[sender].external_id(instance)
    transaction.on_commit(lambda: services.article_delete(external_id=external_id))
