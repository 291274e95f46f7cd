"""Reads: related articles, catalogue listings and the reader site's blocks (templates and API)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Subquery
from django.utils import timezone
from pgvector.django import CosineDistance

from newsrec.conf import newsrec_settings
from newsrec.models import Article, Event, EventKind, Reader


def article_list(
    *,
    section: str | None = None,
    tag: str | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
) -> QuerySet[Article]:
    """Live articles, newest first, optionally in one section, with one tag, in a time window."""
    qs = Article.objects.published().defer("body", "embedding")
    if section:
        qs = qs.filter(section=section)
    if tag:
        qs = qs.filter(tags__contains=[tag])
    if published_after is not None:
        qs = qs.filter(published_at__gte=published_after)
    if published_before is not None:
        qs = qs.filter(published_at__lt=published_before)
    return qs.order_by("-published_at", "-id")


def article_related(*, article: Article, limit: int | None = None) -> list[Article]:
    """Nearest live neighbours of ``article`` by cosine distance, in one query.

    The inner query is a plain ``ORDER BY distance LIMIT k`` that PostgreSQL always serves from
    the HNSW index (filters there would tempt the planner into a sequential scan on mid-sized
    tables); the outer query keeps the live ones (published, not embargoed, not retracted). When
    too many neighbours are not live, it asks again for a wider neighbourhood.
    """
    if article.embedding is None:
        return []
    limit = limit or int(newsrec_settings.RELATED_LIMIT)
    for widen in (4, 40):
        nearest = (
            Article.objects.filter(embedding__isnull=False)
            .annotate(distance=CosineDistance("embedding", article.embedding))
            .order_by("distance")
            .values("pk")[: limit * widen + 1]
        )
        related: list[Article] = list(
            Article.objects.published()
            .filter(pk__in=Subquery(nearest))
            .exclude(pk=article.pk)
            .defer("body", "embedding")
            .annotate(distance=CosineDistance("embedding", article.embedding))
            .order_by("distance")[:limit]
        )
        if len(related) == limit:
            break
    return related


def section_names() -> list[str]:
    """Sections that have live articles, alphabetically."""
    # order_by() first: the model's default ordering would otherwise make DISTINCT per row.
    names = Article.objects.published().order_by("section").values_list("section", flat=True)
    return [s for s in names.distinct() if s]


def article_with_embedding(*, pk: int) -> Article | None:
    return Article.objects.only("id", "embedding").filter(pk=pk).first()


# --- Reader site reads ---------------------------------------------------------------------


def articles_live_by_id(*, ids: Iterable[int]) -> dict[int, Article]:
    """Live articles among ``ids`` (without body and vector), keyed by id; one query."""
    wanted = {int(i) for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        a.pk: a
        for a in Article.objects.published().defer("body", "embedding").filter(pk__in=wanted)
    }


def reader_hidden_article_ids(*, reader: Reader | None) -> set[int]:
    """Articles the reader marked "Not interested"; the site drops them at read time.

    Materialised feeds learn of a hide only when they are next rebuilt (queued at once, but
    asynchronous), so pages filter with this one indexed query for an immediate effect.
    """
    if reader is None or reader.pk is None:
        return set()
    return set(
        Event.objects.filter(reader_id=reader.pk, kind=EventKind.HIDE).values_list(
            "article_id", flat=True
        )
    )


def articles_trending(
    *, limit: int = 5, hours: float = 48.0, exclude: Iterable[int] = ()
) -> list[Article]:
    """Live articles with the most clicks in the last ``hours``, most clicked first."""
    skip = set(exclude)
    since = timezone.now() - timedelta(hours=hours)
    counts = list(
        Event.objects.filter(kind=EventKind.CLICK, occurred_at__gte=since)
        .exclude(article_id__in=skip)
        .values("article_id")
        .annotate(clicks=Count("id"))
        .order_by("-clicks", "-article_id")[: limit * 3]  # room for ones no longer live
    )
    live = articles_live_by_id(ids=[row["article_id"] for row in counts])
    return [live[row["article_id"]] for row in counts if row["article_id"] in live][:limit]


def section_latest(
    *, per_section: int = 3, exclude: Iterable[int] = (), scan: int = 500
) -> dict[str, list[Article]]:
    """The newest ``per_section`` live articles of each section, sections alphabetically.

    Only the newest ``scan`` live articles are looked at (one short index scan, narrow rows),
    which keeps the front page cheap on a large archive; a section with nothing among them is
    left out rather than dated.
    """
    skip = set(exclude)
    newest = (
        Article.objects.published()
        .exclude(section="")
        .only("id", "title", "section", "published_at")
        .order_by("-published_at", "-id")[:scan]
    )
    blocks: dict[str, list[Article]] = {}
    for article in newest:
        if article.pk in skip:
            continue
        block = blocks.setdefault(article.section, [])
        if len(block) < per_section:
            block.append(article)
    return dict(sorted(blocks.items()))


@dataclass(frozen=True)
class FeedCard:
    """A feed item joined with its live article: what a page or template tag shows."""

    article: Article
    reason: str = ""
    source: str = ""
    slot: int = 0  # 1-based position in the served feed (0: not from a feed)
    seed_id: int | None = None
    recommendation_id: str = ""  # "<feed key>:<version>[:<variant>]", sent with impressions


@dataclass(frozen=True)
class ReaderFeed:
    """A reader's feed as cards, minus hidden and no-longer-live articles."""

    cards: list[FeedCard]
    personalised: bool
    stored: bool  # False: no feed has been built yet (not even the default one)
    seeds: dict[int, Article] = field(default_factory=dict)  # the X of "Because you read X"


def reader_feed_cards(
    *,
    reader: Reader | None,
    device: str = "",
    limit: int | None = None,
    section: str | None = None,
    hidden: set[int] | None = None,
) -> ReaderFeed:
    """The reader's stored feed (or the default one) joined with live articles in one query.

    Articles the reader hid are dropped here, before the next rebuild has learnt of them.
    """
    from newsrec import feeds

    limit = limit or int(newsrec_settings.FEED_LENGTH)
    if hidden is None:
        hidden = reader_hidden_article_ids(reader=reader)
    view = feeds.feed_read(reader=reader, device=device, limit=int(newsrec_settings.FEED_LENGTH))
    if view is None:
        return ReaderFeed(cards=[], personalised=False, stored=False)
    items = [
        (slot, item)
        for slot, item in enumerate(view.items, start=1)
        if item["article_id"] not in hidden and (section is None or item["section"] == section)
    ]
    seed_ids = {item.get("seed_id") for _, item in items} - {None}
    live = articles_live_by_id(ids=[item["article_id"] for _, item in items] + list(seed_ids))
    recommendation = view.recommendation_id  # names the experiment variant, if any
    cards = [
        FeedCard(
            article=live[item["article_id"]],
            reason=item.get("reason") or "",
            source=item.get("source") or "",
            slot=slot,
            seed_id=item.get("seed_id"),
            recommendation_id=recommendation,
        )
        for slot, item in items
        if item["article_id"] in live
    ]
    return ReaderFeed(
        cards=cards[:limit],
        personalised=view.personalised,
        stored=True,
        seeds={pk: live[pk] for pk in seed_ids if pk in live},
    )
