"""On-site nudges: who may see one, the daily caps and dismissals, and "Pick up where you left off".

Every kind of nudge goes through :func:`nudge_policy_for` before anything is shown: a known
reader who has not opted out of personalisation, in an experiment arm that has nudges (a
holdout or a nudges-off arm has none), the kind switched on for the surface by the editors
(``newsrec.providers.nudges_provider``), the reader's risk band among those the editors chose,
under today's cap and not dismissed today. Counts and dismissals live in the cache per reader,
kind and UTC day.

"Pick up where you left off" (:func:`pickup_cards`):

- **binge readers** (on average at least ``NUDGE_BINGE_STORIES_PER_VISIT`` stories opened per
  visit over the churn window) get the next part of a story they started. A *story* is a tag
  shared by at most ``NUDGE_SERIES_MAX_ARTICLES`` live articles (a series or running story,
  not a topic); its next part is the earliest live article of that tag published after the
  one they read, which they have not opened. Failing that, the nearest article (by embedding)
  to one they read only partly (read depth below finishing, no finish);
- **samplers** get one short standout: the first unread story of their feed (the site's read
  pipeline) that reads in at most ``NUDGE_SHORT_READ_MINUTES``.

Every candidate is live (published, past embargo, not withdrawn), allowed by the hard filters
of the rules a read on that device sees (blocks, max age), and not hidden by the reader.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.rules import Filters
from newsrec.models import Article, Event, Reader
from newsrec.providers import (
    NUDGE_BEFORE_YOU_GO,
    NUDGE_KINDS,
    NUDGE_PICK_UP,
    NUDGE_SURFACES,
    NudgePolicy,
    experiments_provider,
    nudges_provider,
    rules_provider,
)
from newsrec.retention.models import ReaderRisk, RiskBand
from newsrec.selectors import CARD_FIELDS, FeedCard

OPENED_KINDS = ("click", "read", "dwell", "finish")
FINISHED_DEPTH = 0.9  # read this far, a story counts as finished (as in the churn features)
WORDS_PER_MINUTE = 230
STARTED_SCAN = 10  # the reader's latest opened stories looked at for a story to continue
STANDOUT_SCAN = 10  # feed cards looked at for a short standout
DAY_SECONDS = 2 * 86_400  # counts outlive their UTC day a little (clock skew between hosts)
_TAGS = re.compile(r"<[^>]+>")


def _today() -> date:
    return timezone.now().date()


def nudge_count_key(*, reader_id: int, day: date, kind: str = NUDGE_BEFORE_YOU_GO) -> str:
    """The cache key counting one reader's nudges of ``kind`` shown on one day (UTC)."""
    if kind == NUDGE_BEFORE_YOU_GO:  # the key it had before there were kinds
        return f"newsrec:nudge:{reader_id}:{day.isoformat()}"
    return f"newsrec:nudge:{kind}:{reader_id}:{day.isoformat()}"


def nudge_dismissed_key(*, reader_id: int, day: date, kind: str) -> str:
    return f"newsrec:nudge-dismissed:{kind}:{reader_id}:{day.isoformat()}"


def nudges_shown_today(*, reader: Reader, kind: str = NUDGE_BEFORE_YOU_GO) -> int:
    return int(cache.get(nudge_count_key(reader_id=reader.pk, day=_today(), kind=kind)) or 0)


def reader_band(*, reader: Reader) -> str:
    """The reader's stored risk band; readers not scored yet count as low."""
    band = ReaderRisk.objects.filter(reader=reader).values_list("band", flat=True).first()
    return band or RiskBand.LOW


def reader_gets_nudges(*, reader: Reader | None) -> bool:
    """A known reader who has not opted out, in no experiment arm that keeps nudges off."""
    if reader is None or reader.pk is None or not reader.personalisation_enabled:
        return False
    arm = experiments_provider().reader_arm(reader=reader)
    return arm is None or (not arm.holdout and bool(getattr(arm, "nudges", True)))


def nudge_policy_for(
    *, reader: Reader | None, kind: str, surface: str, count_today: bool = True
) -> NudgePolicy | None:
    """The policy under which ``reader`` may be offered a ``kind`` nudge on ``surface`` now,
    or None when they may not (see the module's docstring). ``count_today=False`` leaves out
    the cap (the caller claims atomically instead)."""
    if kind not in NUDGE_KINDS or surface not in NUDGE_SURFACES:
        return None
    if reader is None or not reader_gets_nudges(reader=reader):
        return None
    policy = nudges_provider().nudge_policy(kind=kind)
    if not policy.shows_on(surface):
        return None
    if policy.bands and reader_band(reader=reader) not in policy.bands:
        return None
    day = _today()
    if cache.get(nudge_dismissed_key(reader_id=reader.pk, day=day, kind=kind)):
        return None
    if count_today and nudges_shown_today(reader=reader, kind=kind) >= policy.max_per_day:
        return None
    return policy


def nudge_claim(
    *, reader: Reader | None, kind: str = NUDGE_BEFORE_YOU_GO, surface: str = "article"
) -> bool:
    """Count one ``kind`` nudge for the reader today if the policy and cap allow (atomically:
    two tabs at once show one nudge). Never for unknown or opted-out readers."""
    policy = nudge_policy_for(reader=reader, kind=kind, surface=surface, count_today=False)
    if policy is None or reader is None:
        return False
    key = nudge_count_key(reader_id=reader.pk, day=_today(), kind=kind)
    cache.add(key, 0, timeout=DAY_SECONDS)
    try:
        return int(cache.incr(key)) <= policy.max_per_day
    except ValueError:  # the cache is unreachable: the cap cannot be kept, so no nudge
        return False


def nudge_dismiss(*, reader: Reader | None, kind: str) -> bool:
    """The reader closed the ``kind`` nudge: none of that kind again today."""
    if reader is None or reader.pk is None or kind not in NUDGE_KINDS:
        return False
    key = nudge_dismissed_key(reader_id=reader.pk, day=_today(), kind=kind)
    cache.set(key, 1, timeout=DAY_SECONDS)
    return True


# --- "Pick up where you left off" ----------------------------------------------------------


@dataclass(frozen=True)
class _Opened:
    article_id: int
    depth: float
    finished: bool
    last_at: float


def _reader_events(*, reader: Reader) -> tuple[list[_Opened], set[int], float]:
    """What the reader opened in the churn window (latest first), what they ever hid, and
    their mean stories opened per visit: one query."""
    from newsrec.retention.features import EventRow, sessions_of

    since = timezone.now() - timedelta(days=int(newsrec_settings.CHURN_WINDOW_DAYS))
    rows = (
        Event.objects.filter(reader=reader)
        .filter(Q(kind="hide") | Q(kind__in=OPENED_KINDS, occurred_at__gte=since))
        .order_by("occurred_at")
        .values_list("kind", "article_id", "read_depth", "occurred_at", "session_id")
    )
    hidden: set[int] = set()
    opened: dict[int, _Opened] = {}
    history: list[EventRow] = []
    for kind, article_id, depth, at, session in rows:
        if kind == "hide":
            hidden.add(article_id)
            continue
        history.append(EventRow(at=at, kind=kind, article_id=article_id, read_depth=depth,
                                session_id=session))  # fmt: skip
        before = opened.get(article_id)
        deepest = max(depth or 0.0, before.depth if before else 0.0)
        finished = kind == "finish" or deepest >= FINISHED_DEPTH or bool(before and before.finished)
        opened[article_id] = _Opened(article_id, deepest, finished, at.timestamp())
    sessions = sessions_of(history)
    per_visit = sum(s.opened for s in sessions) / len(sessions) if sessions else 0.0
    latest = sorted(opened.values(), key=lambda o: -o.last_at)
    return latest, hidden, per_visit


def reading_minutes(body: str) -> int:
    """Minutes to read ``body`` (HTML or text) at WORDS_PER_MINUTE, at least one."""
    words = len(_TAGS.sub(" ", body or "").split())
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def _allowed(articles: list[Article], filters: Filters) -> list[Article]:
    """``articles`` that the hard filters allow now (blocks, timed blocks, max ages)."""
    now = time.time()
    return [
        a for a in articles
        if not filters.excludes(
            article_id=a.pk, section=a.section, now=now, tags=a.tags or (),
            authors=a.authors or (),
            published_at=a.published_at.timestamp() if a.published_at else None,
        )
    ]  # fmt: skip


def _read_filters(*, reader: Reader, device: str) -> Filters:
    """The hard filters a read by this reader on ``device`` obeys (site-wide and scoped sets)."""
    arm = experiments_provider().reader_arm(reader=reader)
    return (
        rules_provider()
        .read_rules(device=device, variant_id=arm.variant_id if arm is not None else None)
        .rules.filters
    )


def _recommendation_id(*, reader: Reader) -> str:
    """ "pickup:<reader>[:<variant tag>]": clicks name the nudge and the experiment variant."""
    arm = experiments_provider().reader_arm(reader=reader)
    return ":".join(filter(None, ["pickup", str(reader.pk), arm.tag if arm else ""]))[:64]


def _story_next(
    *, started: list[_Opened], skip: set[int], filters: Filters
) -> tuple[Article, str] | None:
    """The next part of a story the reader started: a rare tag's next live article."""
    from newsrec.feeds import withdrawn_ids

    seen = {a.pk: a for a in Article.objects.filter(pk__in=[s.article_id for s in started])
            .only("id", "title", "tags", "published_at")}  # fmt: skip
    tags = sorted({t for a in seen.values() for t in (a.tags or ())})
    if not tags:
        return None
    live = Article.objects.published().exclude(pk__in=skip | withdrawn_ids())
    limit = int(newsrec_settings.NUDGE_SERIES_MAX_ARTICLES)
    candidates = _allowed(
        list(
            live.filter(tags__overlap=tags).only(*CARD_FIELDS).order_by("published_at", "id")[:500]
        ),
        filters,
    )
    sizes = dict.fromkeys(tags, 0)
    for row in Article.objects.published().filter(tags__overlap=tags).values_list("tags"):
        for tag in row[0] or ():
            if tag in sizes:
                sizes[tag] += 1
    for opened in started:  # latest first
        article = seen.get(opened.article_id)
        if article is None or article.published_at is None:
            continue
        story = sorted(
            (t for t in (article.tags or ()) if 2 <= sizes.get(t, 0) <= limit),
            key=lambda t: (sizes[t], t),
        )
        for tag in story:  # the rarest tag first: the most specific story
            after = [c for c in candidates if tag in (c.tags or ()) and c.published_at
                     and c.published_at > article.published_at]  # fmt: skip
            if after:
                return after[0], f"Next in “{tag}”, after “{article.title}”"
    return None


def _partly_read_next(
    *, started: list[_Opened], skip: set[int], filters: Filters
) -> tuple[Article, str] | None:
    """The nearest live article to one the reader read only partly."""
    from newsrec.feeds import withdrawn_ids
    from newsrec.selectors import article_related

    gone = withdrawn_ids()
    for opened in started:
        if opened.finished:
            continue
        article = Article.objects.only("id", "title", "embedding").filter(
            pk=opened.article_id).first()  # fmt: skip
        if article is None:
            continue
        related = [a for a in article_related(article=article, limit=8)
                   if a.pk not in skip and a.pk not in gone]  # fmt: skip
        for candidate in _allowed(related, filters):
            return candidate, f"Follows on from “{article.title}”, which you started"
    return None


def _short_standout(
    *, reader: Reader, device: str, local_hour: int | None, skip: set[int], hidden: set[int]
) -> FeedCard | None:
    """The reader's best unread story that reads in a few minutes, through the read pipeline."""
    from newsrec.selectors import reader_feed_cards

    feed = reader_feed_cards(reader=reader, device=device, local_hour=local_hour, hidden=hidden)
    unread = [c for c in feed.cards if c.article.pk not in skip][:STANDOUT_SCAN]
    bodies = dict(Article.objects.filter(pk__in=[c.article.pk for c in unread])
                  .values_list("pk", "body"))  # fmt: skip
    short = int(newsrec_settings.NUDGE_SHORT_READ_MINUTES)
    for card in unread:
        minutes = reading_minutes(bodies.get(card.article.pk) or "")
        if minutes <= short:
            why = card.reason or "Top story right now"
            return FeedCard(
                article=card.article, reason=f"A {minutes}-minute read. {why}",
                source=card.source, slot=card.slot, seed_id=card.seed_id,
                recommendation_id=card.recommendation_id,
            )  # fmt: skip
    return None


def reader_style(*, reader: Reader) -> str:
    """ "binge" or "sampler", from the reader's own stories opened per visit."""
    _opened, _hidden, per_visit = _reader_events(reader=reader)
    return (
        "binge"
        if per_visit >= float(newsrec_settings.NUDGE_BINGE_STORIES_PER_VISIT)
        else ("sampler")
    )


def pickup_cards(
    *,
    reader: Reader,
    device: str = "",
    local_hour: int | None = None,
    exclude: tuple[int, ...] | list[int] = (),
) -> list[FeedCard]:
    """The one story "Pick up where you left off" offers the reader, with its reason; empty
    when there is none (see the module's docstring). Does not check the policy or the cap."""
    opened, hidden, per_visit = _reader_events(reader=reader)
    skip = {o.article_id for o in opened} | hidden | set(exclude)
    if per_visit >= float(newsrec_settings.NUDGE_BINGE_STORIES_PER_VISIT):
        filters = _read_filters(reader=reader, device=device)
        started = opened[:STARTED_SCAN]
        found = _story_next(started=started, skip=skip, filters=filters) or _partly_read_next(
            started=started, skip=skip, filters=filters
        )
        if found is None:
            return []
        article, reason = found
        return [FeedCard(article=article, reason=reason, source="pickup",
                         recommendation_id=_recommendation_id(reader=reader))]  # fmt: skip
    if not opened:
        return []  # nothing started: nothing to pick up
    card = _short_standout(
        reader=reader, device=device, local_hour=local_hour, skip=skip, hidden=hidden
    )
    return [card] if card is not None else []


def nudge_offer(
    *,
    reader: Reader | None,
    kind: str,
    surface: str,
    device: str = "",
    local_hour: int | None = None,
    exclude: tuple[int, ...] | list[int] = (),
    claim: bool,
) -> tuple[NudgePolicy, list[FeedCard]] | None:
    """The nudge of ``kind`` for the reader on ``surface``, or None: policy, cap, then items
    (none: nothing shown, nothing counted). With ``claim`` it is counted against the cap."""
    from newsrec.retention.selectors import nudge_cards

    policy = nudge_policy_for(reader=reader, kind=kind, surface=surface)
    if policy is None or reader is None:
        return None
    if kind == NUDGE_PICK_UP:
        cards = pickup_cards(reader=reader, device=device, local_hour=local_hour, exclude=exclude)
    else:
        cards = nudge_cards(reader=reader, device=device, local_hour=local_hour, exclude=exclude)
    if not cards or (claim and not nudge_claim(reader=reader, kind=kind, surface=surface)):
        return None
    return policy, cards
