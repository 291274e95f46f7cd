"""Pieces the admin classes of newsrec and editorial share."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes these rows in the admin: they are written by the
    product (audit entries, published versions, roll-ups, readers' data), only viewed here.
    List it before ``admin.ModelAdmin``."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
