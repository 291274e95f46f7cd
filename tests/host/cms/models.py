from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Journalist(AbstractUser):
    """The host's own user model (no ``username`` lookups assumed by newsrec)."""

    byline = models.CharField(max_length=100, blank=True)


class Story(models.Model):
    headline = models.CharField(max_length=200)
    standfirst = models.TextField(blank=True)
    desk = models.CharField(max_length=50)

    objects: models.Manager[Story] = models.Manager()

    def __str__(self) -> str:
        return self.headline
