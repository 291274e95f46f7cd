"""The catalogue as reads see it: its change counter, and story cards' articles by id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection

from newsrec.memo import Memo
from newsrec.models import Article

# What story cards, rails and the feed tag show: loading only these keeps pages cheap. Other
# fields of a card's article still load when read, one query each.
# (tags and authors: the diversity caps of what a page shows)
CARD_FIELDS = (
    "id", "title", "lead", "section", "tags", "authors", "published_at", "url", "status",
    "embargo_until",
)  # fmt: skip
CARD_SECONDS = 30.0  # the longest a card may lag an edit (see card_articles)


def catalogue_signature() -> int:
    """Fingerprint of the catalogue: a counter that every statement writing the article table
    advances (migration 0006's trigger); one read of a sequence, whatever the archive's size."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value + is_called::int FROM newsrec_catalogue_changes")
        return int(cursor.fetchone()[0])


@dataclass
class _CardCache:
    signature: int
    articles: dict[int, Article | None] = field(default_factory=dict)


_cards: Memo[_CardCache] = Memo("card articles", CARD_SECONDS)
CARD_CACHE_SIZE = 5_000  # articles (a few kB each); beyond it the cache starts again


def card_articles(ids: set[int]) -> dict[int, Article]:
    """Articles among ``ids`` (CARD_FIELDS only, live or not), keyed by id.

    Every page shows the same few hundred stories to different readers, so this process keeps
    the ones it loaded while the catalogue is unchanged: its change counter
    (:func:`catalogue_signature`, one read of a sequence) is asked on each call, and any write
    to the article table anywhere starts the cache again. A write whose transaction is still
    open when the counter is read can leave an older copy behind; CARD_SECONDS bounds
    that. Inside a transaction the database answers, as for the memoised page blocks.
    """

    def load(wanted: Iterable[int]) -> list[Article]:
        return list(Article.objects.only(*CARD_FIELDS).filter(pk__in=wanted))

    if connection.in_atomic_block:
        return {a.pk: a for a in load(ids)}
    signature = catalogue_signature()
    cache = _cards.get(lambda: _CardCache(signature))
    if cache.signature != signature or len(cache.articles) > CARD_CACHE_SIZE:
        _cards.clear()
        cache = _cards.get(lambda: _CardCache(signature))
    missing = ids - cache.articles.keys()
    if missing:
        found = {a.pk: a for a in load(missing)}
        cache.articles.update({pk: found.get(pk) for pk in missing})  # None: no such article
    known = cache.articles
    return {pk: a for pk in ids if (a := known.get(pk)) is not None}


def card_articles_clear() -> None:
    """Forget this process's card articles (tests; after bulk changes in this process)."""
    _cards.clear()
