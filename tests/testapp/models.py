"""Test-only CMS models mirrored into newsrec, one with an adapter class, one with a field map."""

from __future__ import annotations

from typing import Any

from django.db import models

from newsrec import registry


class Desk(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Story(models.Model):
    headline = models.CharField(max_length=300)
    standfirst = models.TextField(blank=True)
    text = models.TextField(blank=True)
    desk = models.ForeignKey(Desk, on_delete=models.PROTECT)
    live = models.BooleanField(default=False)
    first_published = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.headline


class Brief(models.Model):
    heading = models.CharField(max_length=300)
    summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.heading


@registry.register(Story)
class StoryAdapter(registry.ArticleAdapter):
    def to_article(self, story: Any) -> dict[str, Any]:
        return {
            "title": story.headline,
            "lead": story.standfirst,
            "body": story.text,
            "section": story.desk.name,
            "published_at": story.first_published,
            "status": "published" if story.live else "draft",
        }


registry.register(Brief, fields={"title": "heading", "lead": "summary"})
