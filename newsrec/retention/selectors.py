"""Reads for retention: readers' event histories, the churn model in use, risk listings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.models import Article, Event, Reader
from newsrec.providers import NUDGE_BEFORE_YOU_GO
from newsrec.retention.features import EventRow
from newsrec.retention.models import ChurnModel, ReaderRisk, RiskBand
from newsrec.retention.nudges import nudge_count_key as nudge_count_key
from newsrec.retention.nudges import nudge_policy_for
from newsrec.retention.nudges import nudges_shown_today as nudges_shown_today
from newsrec.selectors import FeedCard


def reader_histories(
    *, since: datetime, until: datetime, reader_ids: Iterable[int] | None = None
) -> dict[int, list[EventRow]]:
    """Each reader's events in [since, until), oldest first, as ``EventRow``s.

    Only events that may be profiled, of readers who have not opted out of personalisation:
    churn risk is a profile of the reader like any other.
    """
    events = Event.objects.filter(
        occurred_at__gte=since,
        occurred_at__lt=until,
        profiling_allowed=True,
        reader__personalisation_enabled=True,
    )
    if reader_ids is not None:
        events = events.filter(reader_id__in=list(reader_ids))
    rows = events.order_by("reader_id", "occurred_at").values_list(
        "reader_id", "occurred_at", "kind", "article_id", "read_depth", "session_id", "local_hour"
    )
    out: dict[int, list[EventRow]] = {}
    for reader_id, at, kind, article_id, depth, session, hour in rows.iterator(chunk_size=5000):
        out.setdefault(reader_id, []).append(
            EventRow(at=at, kind=kind, article_id=article_id, read_depth=depth,
                     session_id=session, local_hour=hour)
        )  # fmt: skip
    return out


def readers_active(*, since: datetime, until: datetime) -> list[int]:
    """Ids of the readers (not opted out) with a profiled event in [since, until)."""
    return list(
        Event.objects.filter(
            occurred_at__gte=since,
            occurred_at__lt=until,
            profiling_allowed=True,
            reader__personalisation_enabled=True,
        )
        .order_by()
        .values_list("reader_id", flat=True)
        .distinct()
    )


def churn_model_latest() -> ChurnModel | None:
    """The churn model that scores readers: the newest training run."""
    return ChurnModel.objects.order_by("-created_at", "-id").first()


def readers_at_risk(*, since: datetime, bands: Iterable[str]) -> QuerySet[ReaderRisk]:
    """Readers whose band rose to one of ``bands`` at ``since`` or later, latest rise first.

    Never readers who opted out of personalisation, and only readers the host can name (a
    logged-in user, or an id the host sent events under): an anonymous browser cannot be
    reached off the site. Erased readers are gone with their row.
    """
    return (
        ReaderRisk.objects.personalised()
        .rose_since(since)
        .filter(band__in=list(bands))
        .filter(Q(reader__user__isnull=False) | Q(reader__client_id__startswith="api:"))
        .select_related("reader")
        .order_by("-rose_at", "reader_id")
    )


@dataclass(frozen=True)
class Pick:
    """One story for a reader at risk, from their feed as the site would show it now."""

    article: Article
    reason: str
    slot: int
    recommendation_id: str


def reader_picks(*, reader: Reader, limit: int) -> list[Pick]:
    """The top of the reader's feed through the site's read pipeline (every editorial rule,
    hidden stories dropped, live articles only)."""
    from newsrec.selectors import reader_feed_cards

    feed = reader_feed_cards(reader=reader, limit=limit)
    return [
        Pick(
            article=card.article,
            reason=card.reason,
            slot=card.slot,
            recommendation_id=card.recommendation_id,
        )
        for card in feed.cards[:limit]
    ]


# --- "Before you go" ----------------------------------------------------------------------------

NUDGE_FALLBACK_REASON = "Top story right now"
OPENED_KINDS = ("click", "read", "finish")


def nudge_allowed(*, reader: Reader | None, surface: str = "article") -> bool:
    """A "Before you go" nudge may be offered: see ``nudges.nudge_policy_for``."""
    return nudge_policy_for(reader=reader, kind=NUDGE_BEFORE_YOU_GO, surface=surface) is not None


def nudge_cards(
    *,
    reader: Reader,
    device: str = "",
    local_hour: int | None = None,
    exclude: Iterable[int] = (),
    limit: int = 3,
) -> list[FeedCard]:
    """The reader's best unread stories: the top of their feed through the site's read
    pipeline (every editorial rule, hidden stories dropped), less what they have opened and
    ``exclude`` (the page being read). Each card has a reason."""
    from newsrec.selectors import reader_feed_cards

    since = timezone.now() - timedelta(days=int(newsrec_settings.CHURN_WINDOW_DAYS))
    # One query for what they hid (ever) and opened (in the window): the page's budget is small.
    seen = (
        Event.objects.filter(reader=reader)
        .filter(Q(kind="hide") | Q(kind__in=OPENED_KINDS, occurred_at__gte=since))
        .values_list("kind", "article_id")
        .distinct()
    )
    hidden: set[int] = set()
    opened = set(exclude)
    for kind, article_id in seen:
        (hidden if kind == "hide" else opened).add(article_id)
    feed = reader_feed_cards(reader=reader, device=device, local_hour=local_hour, hidden=hidden)
    return [
        card if card.reason else replace(card, reason=NUDGE_FALLBACK_REASON)
        for card in feed.cards
        if card.article.pk not in opened
    ][:limit]


def risk_band_counts() -> dict[str, int]:
    """How many readers are in each band now, every band listed (for editors)."""
    counts = dict(
        ReaderRisk.objects.personalised()
        .order_by()
        .values_list("band")
        .annotate(n=Count("reader"))
        .values_list("band", "n")
    )
    return {band: int(counts.get(band, 0)) for band in RiskBand.values}


def reader_risk_export(*, reader: Reader) -> dict[str, object] | None:
    """The reader's stored churn risk, for their data export (None when there is none)."""
    risk = ReaderRisk.objects.filter(reader=reader).first()
    if risk is None:
        return None
    return {
        "band": risk.band,
        "probability": risk.probability,
        "previous_band": risk.previous_band,
        "band_since": risk.band_since,
        "rose_at": risk.rose_at,
        "reasons": risk.reasons,
        "computed_at": risk.computed_at,
    }


def risk_band_history(*, days: int = 30, now: datetime | None = None) -> list[dict[str, object]]:
    """Readers per band over the last ``days`` days: the last scoring run of each UTC day,
    oldest first, as ``{"day": date, "low": n, "rising": n, "high": n}``."""
    from newsrec.retention.models import RiskBandCount

    since = (now or timezone.now()) - timedelta(days=days)
    rows = (
        RiskBandCount.objects.filter(at__gte=since)
        .order_by("at")
        .values_list("at", "band", "readers")
    )
    latest: dict[date, tuple[datetime, dict[str, int]]] = {}
    for at, band, readers in rows:  # oldest first: a later run of the day replaces an earlier
        kept = latest.get(at.date())
        if kept is None or kept[0] < at:
            kept = latest[at.date()] = (at, {})
        kept[1][band] = int(readers)
    return [
        {"day": day, **{band: counts.get(band, 0) for band in RiskBand.values}}
        for day, (_at, counts) in sorted(latest.items(), key=lambda kv: kv[1][0])
    ]
