"""Autocomplete for the rule form: sections, tags, authors, articles and scope values."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from editorial import selectors
from editorial.permissions import VIEW_RULESET
from editorial.views.base import EditorialAdminView

TARGET_FIELDS = ("section", "tag", "author", "article")
QUERY_LENGTH = 200  # longer queries are cut


class LookupView(EditorialAdminView):
    """`?field=section|tag|author|article|scope:<scope>&q=...` -> `{"results": [...]}`;
    400 with `{"error": ...}` for any other field."""

    permission_required = VIEW_RULESET

    def get(self, request: HttpRequest) -> JsonResponse:
        field = request.GET.get("field", "")
        query = request.GET.get("q", "")[:QUERY_LENGTH]
        if field.startswith("scope:"):
            results = selectors.scope_lookup(scope=field.removeprefix("scope:"), query=query)
            return JsonResponse({"results": results})
        if field not in TARGET_FIELDS:
            return JsonResponse(
                {"error": "field must be section, tag, author, article or scope:<scope>"},
                status=400,
            )
        return JsonResponse({"results": selectors.target_lookup(field=field, query=query)})
