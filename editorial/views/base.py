"""The base of the editors' admin pages: served inside the admin site for one ModelAdmin."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.views import View


class EditorialAdminView(View):
    """A page of the editors' admin, built with `as_view(model_admin=...)` in `get_urls` and
    wrapped in `admin_site.admin_view` (staff login, CSRF, no cache).

    Override `permission_required` (one permission the user must hold, checked before anything
    else) or `has_permission`; `http_method_names` lists the methods the page answers, any other
    gets 405 with exactly those in `Allow`.
    """

    model_admin: ModelAdmin[Any] | None = None
    permission_required: str | None = None
    http_method_names = ["get", "head"]

    def has_permission(self, request: HttpRequest) -> bool:
        return self.permission_required is None or request.user.has_perm(self.permission_required)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not self.has_permission(request):
            raise PermissionDenied
        self.load(**kwargs)
        return super().dispatch(request, *args, **kwargs)

    def load(self, **kwargs: Any) -> None:
        """Override to look up what the page is about from the URL's arguments: after the
        permission check and before the method's, so an unknown object is 404 whatever the
        method."""

    @property
    def admin(self) -> ModelAdmin[Any]:
        assert self.model_admin is not None, "build the view with as_view(model_admin=...)"
        return self.model_admin

    def admin_context(self, **extra: Any) -> dict[str, Any]:
        """The admin's own context (site header, sidebar, `opts` of the model) and `extra`."""
        return {
            **self.admin.admin_site.each_context(self.request),
            "opts": self.admin.model._meta,
            **extra,
        }

    def render(self, template_name: str, context: dict[str, Any]) -> TemplateResponse:
        return TemplateResponse(self.request, template_name, context)

    def message(self, text: str, level: int = messages.INFO) -> None:
        self.admin.message_user(self.request, text, level)
