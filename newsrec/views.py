"""Reader pages: the front page and the article page with its "Related" rail."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from newsrec import selectors


def home(request: HttpRequest) -> HttpResponse:
    from newsrec import feeds, readers

    section = request.GET.get("section") or None
    articles = list(selectors.article_list(section=section)[:30])
    feed = None
    if section is None:
        reader, _token = readers.reader_for_request(request, create=False)
        feed = feeds.feed_read(reader=reader, limit=12)
    return render(
        request,
        "newsrec/home.html",
        {
            "articles": articles,
            "section": section,
            "sections": selectors.section_names(),
            "feed": feed,
        },
    )


def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(selectors.article_list().defer(None).defer("embedding"), pk=pk)
    full = selectors.article_with_embedding(pk=article.pk)
    related = selectors.article_related(article=full) if full is not None else []
    return render(request, "newsrec/article_detail.html", {"article": article, "related": related})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness/readiness for load balancers and compose: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
