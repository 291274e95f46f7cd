"""Reads: related articles, catalogue listings and the reader site's blocks (templates and API)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from pgvector.django import CosineDistance

from newsrec.conf import newsrec_settings
from newsrec.engine.diversity import caps_keep
from newsrec.engine.ranker import PIN_SOURCE
from newsrec.engine.rules import Cap, Filters, Rules
from newsrec.feeds.catalogue import CARD_FIELDS, card_articles, card_articles_clear
from newsrec.memo import Memo
from newsrec.models import Article, ArticleQuerySet, Event, EventKind, Reader
from newsrec.providers import rules_provider


def article_list(
    *,
    section: str | None = None,
    tag: str | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
) -> ArticleQuerySet:
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


def site_filters() -> Filters:
    """The hard filters of the live site-wide rule set (memoised by the compiler)."""
    return _site_rules().filters


def _site_rules() -> Rules:
    """The live site-wide rules as reads see them (memoised by the rules provider)."""
    return rules_provider().read_rules().rules


def article_related(*, article: Article, limit: int | None = None) -> list[Article]:
    """Nearest live neighbours of ``article`` by cosine distance, in one query.

    One ``ORDER BY distance LIMIT k`` with every filter in its WHERE clause: live (published,
    not embargoed, not retracted) and allowed by the site-wide rules (blocklists, max age:
    "Related" is a recommendation too). PostgreSQL serves it from the HNSW index with pgvector's
    iterative scan (``hnsw.iterative_scan``, set per connection in ``apps.py``), which keeps
    walking the graph until ``k`` rows pass the filters, so no second, wider query is needed.
    The scan is in relaxed order, hence the sort here.
    """
    if article.embedding is None:
        return []
    limit = limit or int(newsrec_settings.RELATED_LIMIT)
    nearest = (
        Article.objects.published()
        .allowed_by(site_filters())
        .filter(embedding__isnull=False)
        .exclude(pk=article.pk)
        .defer("body", "embedding")
        .annotate(distance=CosineDistance("embedding", article.embedding))
        .order_by("distance")
    )
    related: list[Any] = list(nearest[:limit])  # Articles, each with its .distance
    return sorted(related, key=lambda a: (a.distance, a.pk))


def section_names() -> list[str]:
    """Sections that have live articles, alphabetically (memoised for SHARED_READ_SECONDS)."""

    def query() -> tuple[str, ...]:
        # order_by() first: the model's default ordering would otherwise make DISTINCT per row.
        names = Article.objects.published().order_by("section").values_list("section", flat=True)
        return tuple(s for s in names.distinct() if s)

    return list(_shared_read(("section_names",), query))


def article_with_embedding(*, pk: int) -> Article | None:
    return Article.objects.only("id", "embedding").filter(pk=pk).first()


# --- Reader site reads ---------------------------------------------------------------------


# Blocks that are the same for every reader (section blocks, trending, section names) are
# memoised per process for this long; a reader's hidden articles are dropped afterwards, and
# withdrawn articles (feeds.withdrawn_ids) at once.
SHARED_READ_SECONDS = 30.0
_shared: Memo[Any] = Memo("shared page blocks", SHARED_READ_SECONDS)
T = TypeVar("T")


def _shared_read(key: tuple[Any, ...], query: Callable[[], T]) -> T:
    """``query()``, memoised per process for SHARED_READ_SECONDS; keep results immutable.

    Inside a transaction the database answers: a memo must hold only committed rows, and a
    transaction must see its own writes.
    """
    if connection.in_atomic_block:
        return query()
    return _shared.get(query, key)  # type: ignore[no-any-return]


def shared_reads_clear() -> None:
    """Forget the memoised shared blocks and card articles (tests; after bulk changes in this
    process)."""
    _shared.clear()
    card_articles_clear()


def _still_live(article: Article, gone: frozenset[int], now: datetime) -> bool:
    """A memoised article may have been withdrawn (retracted, deleted) since it was read."""
    return article.pk not in gone and article.is_live_at(now)  # one clock for the whole page


def articles_live_by_id(
    *, ids: Iterable[int], filters: Filters | None = None
) -> dict[int, Article]:
    """Live articles among ``ids`` (CARD_FIELDS only), keyed by id. With ``filters``, only
    those the editors' hard filters allow (one query); without, from :func:`card_articles`."""
    wanted = {int(i) for i in ids if i is not None}
    if not wanted:
        return {}
    if filters is None:
        now = timezone.now()
        return {pk: a for pk, a in card_articles(wanted).items() if a.is_live_at(now)}
    live = Article.objects.published().allowed_by(filters)
    return {a.pk: a for a in live.only(*CARD_FIELDS).filter(pk__in=wanted)}


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


TRENDING_SCAN = 60  # memoised click ranking: room for exclusions and articles gone since


def _trending_query(*, hours: float, skip: set[int], rows: int) -> list[tuple[int, int]]:
    since = timezone.now() - timedelta(hours=hours)
    return list(
        Event.objects.filter(kind=EventKind.CLICK, occurred_at__gte=since)
        .exclude(article_id__in=skip)
        .values("article_id")
        .annotate(clicks=Count("id"))
        .order_by("-clicks", "-article_id")
        .values_list("article_id", "clicks")[:rows]
    )


def articles_trending(
    *, limit: int = 5, hours: float = 48.0, exclude: Iterable[int] = ()
) -> list[Article]:
    """Live articles with the most clicks in the last ``hours``, most clicked first, among
    those the site-wide rules allow (a trending list is a recommendation too).

    The ranking and its articles are memoised (SHARED_READ_SECONDS, and per rules version);
    the exclusions are applied to the memo, and when they leave too few candidates the
    database answers instead.
    """
    from newsrec.feeds.withdrawn import withdrawn_ids

    skip = set(exclude)
    rows = limit * 3  # room for ones no longer live or allowed
    rules = _site_rules()

    def ranking() -> tuple[tuple[tuple[int, int], ...], bool, dict[int, Article]]:
        counts = _trending_query(hours=hours, skip=set(), rows=TRENDING_SCAN)
        live = articles_live_by_id(ids=[pk for pk, _ in counts], filters=rules.filters)
        return tuple(counts), len(counts) < TRENDING_SCAN, live

    counts, complete, memo = _shared_read(("trending", hours, rules.version), ranking)
    candidates = [pk for pk, _ in counts if pk not in skip][:rows]
    if len(candidates) < rows and not complete:
        candidates = [pk for pk, _ in _trending_query(hours=hours, skip=skip, rows=rows)]
        live = articles_live_by_id(ids=candidates, filters=rules.filters)
    else:
        gone, now = withdrawn_ids(), timezone.now()
        live = {pk: a for pk, a in memo.items() if _still_live(a, gone, now)}
    return [live[pk] for pk in candidates if pk in live][:limit]


SECTION_SPARE = 5  # memoised extra articles per section, for readers who hid some


def _section_newest(
    *, keep: int, scan: int, skip: set[int], filters: Filters | None = None
) -> dict[str, list[Article]]:
    """The newest ``keep`` live articles per section among the newest ``scan``, minus ``skip``
    and minus what the editors' hard filters remove (a blocked section has no block)."""
    newest = (
        Article.objects.published()
        .allowed_by(filters or Filters())
        .exclude(section="")
        .only(*CARD_FIELDS)
        .order_by("-published_at", "-id")[:scan]
    )
    blocks: dict[str, list[Article]] = {}
    for article in newest:
        if article.pk in skip:
            continue
        block = blocks.setdefault(article.section, [])
        if len(block) < keep:
            block.append(article)
    return dict(sorted(blocks.items()))


def section_latest(
    *, per_section: int = 3, exclude: Iterable[int] = (), scan: int = 500
) -> dict[str, list[Article]]:
    """The newest ``per_section`` live articles of each section, sections alphabetically.

    Only the newest ``scan`` live articles are looked at (one short index scan, narrow rows),
    which keeps the front page cheap on a large archive; a section with nothing among them is
    left out rather than dated. The blocks are memoised (SHARED_READ_SECONDS) with a few spare
    articles each; when a reader's exclusions use them up, the database answers instead.
    """
    from newsrec.feeds.withdrawn import withdrawn_ids

    keep = per_section + SECTION_SPARE
    rules = _site_rules()

    def newest() -> dict[str, tuple[Article, ...]]:
        blocks = _section_newest(keep=keep, scan=scan, skip=set(), filters=rules.filters)
        return {name: tuple(block) for name, block in blocks.items()}

    skip = set(exclude)
    gone, now = withdrawn_ids(), timezone.now()
    blocks: dict[str, list[Article]] = {}
    key = ("section_latest", keep, scan, rules.version)
    for name, candidates in _shared_read(key, newest).items():
        block = [a for a in candidates if a.pk not in skip and _still_live(a, gone, now)]
        if len(block) < per_section and len(candidates) == keep:  # there may be more
            return _section_newest(keep=per_section, scan=scan, skip=skip, filters=rules.filters)
        if block:
            blocks[name] = block[:per_section]
    return blocks


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
    seeds: dict[int, Article] = field(default_factory=dict)  # the X of "Because you read X"
    caps: tuple[Cap, ...] = ()  # the live diversity caps: what a page shows of it keeps them


def _card_labels(card: FeedCard, name: str) -> list[str]:
    article = card.article
    if name == "section":
        return [article.section] if article.section else []
    return list((article.tags if name == "tag" else article.authors) or [])


def cards_capped(cards: list[FeedCard], caps: tuple[Cap, ...], *, limit: int) -> list[FeedCard]:
    """The first ``limit`` of ``cards`` such that every first K keeps the diversity caps.

    Every surface that shows part of a feed (the front page's grid after the rails took their
    cards, a rail, a section page, "Continue reading", the template tags) calls this on what it
    is about to show: dropping cards from a capped feed can pull later ones past a cap.
    """
    return caps_keep(cards, caps, _card_labels, fixed=lambda card: card.source == PIN_SOURCE)[
        :limit
    ]


def reader_feed_cards(
    *,
    reader: Reader | None,
    device: str = "",
    limit: int | None = None,
    section: str | None = None,
    hidden: set[int] | None = None,
    local_hour: int | None = None,
) -> ReaderFeed:
    """The reader's stored feed (or the default one) joined with live articles in one query.

    With ``section``, the section's feed: the stored items of that section and its newest
    articles under the rules of that section page (``feeds.feed_read``). Articles the reader
    hid are dropped here, before the next rebuild has learnt of them.
    """
    from newsrec import feeds

    limit = limit or int(newsrec_settings.FEED_LENGTH)
    if hidden is None:
        hidden = reader_hidden_article_ids(reader=reader)
    view = feeds.feed_read(
        reader=reader, device=device, limit=int(newsrec_settings.FEED_LENGTH),
        section=section or "", local_hour=local_hour,
    )  # fmt: skip
    items = [
        (slot, item)
        for slot, item in enumerate(view.items, start=1)
        if item["article_id"] not in hidden
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
        cards=cards_capped(cards, view.caps, limit=limit),
        personalised=view.personalised,
        seeds={pk: live[pk] for pk in seed_ids if pk in live},
        caps=view.caps,
    )
