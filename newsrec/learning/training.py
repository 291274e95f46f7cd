"""Train the learned ranker from the site's own impressions and clicks, validate, promote.

One run (``newsrec_train``, or the ``newsrec-ranker-train`` beat task):

1. **Impressions and labels.** Every impression of the last ``RANKER_TRAINING_DAYS`` from a
   reader who allows profiling; label 1 when the reader clicked the article within
   ``RANKER_CLICK_MINUTES``, 2 when they also read it well (finished it, 30 s of dwell or 60%
   depth), else 0. Impressions group by (reader, recommendation id, hour): one page view.
2. **Point-in-time signals.** Impressions are taken an hour at a time; each hour's signals
   come from the state at that hour's start: the pool's clicks and impressions, co-visitation and
   the reader's profile and history as they were then (``reader_states_at``), never later.
   The slot an impression was shown in is the ``position`` signal (a constant at serving).
3. **Validation on a later slice.** The last ``RANKER_VALIDATION_DAYS`` validate; the days
   before train (early stopping on a reader-disjoint part of them).
4. **Promotion.** The new model becomes active only if its validation AUC beats both the
   hand-weighted formula's and the active model's on the same impressions, with nDCG@10 no
   worse. Every run is kept with its metrics, signals and importances; with too little data
   nothing is trained, and the run says so.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.rules import Rules
from newsrec.engine.types import Context, ReaderState
from newsrec.feeds import pool_load, reader_state_build
from newsrec.learning.metrics import ranking_figures
from newsrec.learning.model import DEFAULT_PARAMS, LightGBMRanker, TrainingSet, better, fit
from newsrec.models import (
    Event,
    RankerModel,
    RankerModelStatus,
    Reader,
)
from newsrec.profiles import EventSignal, _article_facts, profile_compute
from newsrec.rankers import ranker_build

log = logging.getLogger(__name__)

_IMPRESSIONS_SQL = """
SELECT i.reader_id, i.article_id, i.occurred_at, i.feed_slot, i.recommendation_id,
       EXISTS (
           SELECT 1 FROM {event} c
           WHERE c.reader_id = i.reader_id AND c.article_id = i.article_id AND c.kind = 'click'
             AND c.occurred_at BETWEEN i.occurred_at - interval '1 minute'
                                   AND i.occurred_at + %(window)s
       ) AS clicked,
       EXISTS (
           SELECT 1 FROM {event} r
           WHERE r.reader_id = i.reader_id AND r.article_id = i.article_id
             AND (r.kind = 'finish' OR r.dwell_seconds >= 30 OR r.read_depth >= 0.6)
             AND r.occurred_at BETWEEN i.occurred_at AND i.occurred_at + %(window)s * 3
       ) AS well_read
FROM {event} i
WHERE i.kind = 'impression' AND i.profiling_allowed
  AND i.occurred_at >= %(since)s AND i.occurred_at < %(until)s
ORDER BY i.occurred_at, i.id
"""


@dataclass
class Shown:
    """One page view's impressions: the articles shown, their slots and labels."""

    reader_id: int
    at: datetime
    article_ids: list[int] = field(default_factory=list)
    slots: list[float] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """A click and a non-click: a ranking can be right or wrong about it."""
        return 0 < sum(1 for y in self.labels if y > 0) < len(self.labels)


def impressions_logged(*, since: datetime, until: datetime) -> list[Shown]:
    """Impressions in [since, until) with their labels, grouped into page views."""
    window = timedelta(minutes=int(newsrec_settings.RANKER_CLICK_MINUTES))
    groups: dict[tuple[int, str, datetime], Shown] = {}
    index: dict[tuple[int, str, datetime], dict[int, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(
            _IMPRESSIONS_SQL.format(event=Event._meta.db_table),
            {"window": window, "since": since, "until": until},  # type: ignore[dict-item]
        )
        for reader_id, article_id, at, slot, rec_id, clicked, well_read in cursor.fetchall():
            key = (reader_id, rec_id or "", at.replace(minute=0, second=0, microsecond=0))
            shown = groups.get(key)
            if shown is None:
                shown = groups[key] = Shown(reader_id=reader_id, at=at)
            label = 2.0 if clicked and well_read else 1.0 if clicked else 0.0
            seen = index[key]
            if article_id in seen:  # shown twice on one page: the better label, the first slot
                k = seen[article_id]
                shown.labels[k] = max(shown.labels[k], label)
                continue
            seen[article_id] = len(shown.article_ids)
            shown.article_ids.append(article_id)
            shown.slots.append(float(slot or 0))
            shown.labels.append(label)
    return list(groups.values())


def reader_states_at(*, reader_ids: Sequence[int], now: datetime) -> list[ReaderState]:
    """Readers as they were at ``now``: profile folded from their events up to then (the
    stored profile is today's), history of the 30 days before; readers who have since turned
    personalisation off count as non-personal."""
    since = now - timedelta(days=30)
    rows = Event.objects.filter(
        reader_id__in=reader_ids, occurred_at__gte=since, occurred_at__lte=now
    ).order_by("occurred_at", "id").values_list(
        "reader_id", "event_id", "kind", "article_id", "occurred_at", "dwell_seconds",
        "read_depth", "device", "local_hour", "session_id", "profiling_allowed",
    )  # fmt: skip
    events: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        events[row[0]].append(row[1:])
    enabled = dict(
        Reader.objects.filter(pk__in=reader_ids).values_list("pk", "personalisation_enabled")
    )
    facts = _article_facts({row[2] for rows_ in events.values() for row in rows_})
    half_life = float(newsrec_settings.PROFILE_HALF_LIFE_DAYS)
    states = []
    for reader_id in reader_ids:
        mine = events.get(reader_id, [])
        personal = bool(enabled.get(reader_id, False))
        signals = [EventSignal(*row[:9]) for row in mine if row[9]]
        profile = profile_compute(signals, facts, half_life_days=half_life) if personal else None
        states.append(
            reader_state_build(
                reader_id,
                [(row[2], row[1], row[4], row[5], row[9]) for row in mine],
                personalisation_enabled=personal,
                interest=(
                    np.asarray(profile.interest_vector, np.float32)
                    if profile is not None and profile.interest_vector is not None
                    else None
                ),
                section_affinity=profile.section_affinity if profile else None,
                tag_affinity=profile.tag_affinity if profile else None,
                author_affinity=profile.author_affinity if profile else None,
                profiled=profile is not None and profile.last_event_at is not None,
            )
        )
    return states


@dataclass
class Labelled:
    """Training rows plus, per group, the hand-weighted scores of the same candidates."""

    data: TrainingSet = field(default_factory=TrainingSet)
    hand: list[np.ndarray] = field(default_factory=list)


def rows_of(
    views: Sequence[Shown], *, rules: Rules, progress: Callable[[int], object] | None = None
) -> Labelled:
    """Point-in-time signals of every usable page view (one state per hour: articles published
    during the day count from the next hour on)."""
    by_day: dict[datetime, list[Shown]] = defaultdict(list)
    for view in views:
        if view.usable:
            by_day[view.at.replace(minute=0, second=0, microsecond=0)].append(view)
    out = Labelled()
    ranker = ranker_build()
    for day in sorted(by_day):
        chunk = by_day[day]
        pool = pool_load(now=day.timestamp())
        readers = reader_states_at(reader_ids=sorted({v.reader_id for v in chunk}), now=day)
        by_id = {r.reader_id: r for r in readers}
        scored = ranker.score_candidates(
            pool,
            [by_id[v.reader_id] for v in chunk],
            Context(now=day.timestamp()),
            rules,
            [v.article_ids for v in chunk],
        )
        for view, result in zip(chunk, scored, strict=True):
            keep = result.eligible  # articles since gone from the pool, or read before
            labels = np.asarray(view.labels, np.float32)[keep]
            if not 0 < int((labels > 0).sum()) < len(labels):
                continue
            features = {name: values[keep] for name, values in result.features.items()}
            features["position"] = np.asarray(view.slots, np.float32)[keep]
            out.data.add(str(view.reader_id), features, labels)
            out.hand.append(result.scores[keep])
        if progress:
            progress(len(chunk))
    return out


def active_version() -> RankerModel | None:
    return RankerModel.objects.filter(status=RankerModelStatus.ACTIVE).first()


def train(
    *, now: datetime | None = None, user: str = "", progress: Callable[[int], object] | None = None
) -> RankerModel:
    """One training run (see the module's docstring); returns the stored version."""
    from newsrec.providers import rules_provider

    now = now or timezone.now()
    s = newsrec_settings
    since = now - timedelta(days=int(s.RANKER_TRAINING_DAYS))
    split = now - timedelta(days=int(s.RANKER_VALIDATION_DAYS))
    rules = rules_provider().live_rules()
    train_rows = rows_of(
        impressions_logged(since=since, until=split), rules=rules, progress=progress
    )
    valid_rows = rows_of(impressions_logged(since=split, until=now), rules=rules, progress=progress)
    need = int(s.RANKER_MIN_IMPRESSIONS)
    training = {
        "train_from": since.isoformat(), "train_until": split.isoformat(),
        "validation_until": now.isoformat(),
        "train_impressions": len(train_rows.data), "train_rows": train_rows.data.rows,
        "train_clicks": train_rows.data.clicks,
        "validation_impressions": len(valid_rows.data),
        "validation_readers": len(set(valid_rows.data.keys)),
    }  # fmt: skip
    version = RankerModel(training=training, params=dict(DEFAULT_PARAMS), created_by=user)
    if len(train_rows.data) < need or len(valid_rows.data) < need:
        version.verdict = (
            f"Too little data: {len(train_rows.data)} training and {len(valid_rows.data)} "
            f"validation impressions with a click and a non-click (need {need} each). "
            "Feeds keep the hand-weighted formula."
        )
        version.save()
        log.info("ranker training skipped: %s", version.verdict)
        return version
    inner, held = train_rows.data.split_by_reader(0.2, salt="early-stopping")
    _, rounds = fit(inner, valid=held if len(held) else None)
    model, _ = fit(train_rows.data, rounds=max(rounds, 10))
    labels = valid_rows.data.labels
    metrics = {
        "model": ranking_figures(map(model.score, valid_rows.data.groups()), labels),
        "hand": ranking_figures(valid_rows.hand, labels),
    }
    incumbent = active_version()
    if incumbent is not None and incumbent.model_text:
        old = LightGBMRanker.from_text(
            incumbent.model_text, incumbent.feature_names, incumbent.prefilter
        )
        metrics["incumbent"] = ranking_figures(map(old.score, valid_rows.data.groups()), labels)
    version.feature_names = list(model.feature_names)
    version.model_text = model.to_text()
    version.prefilter = model.prefilter_list()
    version.importances = model.importances()
    version.metrics = metrics
    version.params = {**DEFAULT_PARAMS, "rounds": rounds}
    beats_hand = better(metrics["model"], metrics["hand"])
    beats_incumbent = "incumbent" not in metrics or better(metrics["model"], metrics["incumbent"])
    m, h = metrics["model"], metrics["hand"]
    summary = f"AUC {m['auc']:.4f} vs hand-weighted {h['auc']:.4f}"
    if "incumbent" in metrics:
        summary += f" and active v{incumbent.pk} {metrics['incumbent']['auc']:.4f}"  # type: ignore[union-attr]
    if beats_hand and beats_incumbent:
        version.verdict = f"Promoted: {summary} (nDCG@10 {m['ndcg10']:.4f})."
        version.save()
        activate(version)
    else:
        version.verdict = f"Not promoted: {summary} (nDCG@10 {m['ndcg10']:.4f})."
        version.save()
    log.info("ranker training: %s", version.verdict)
    return version


def activate(version: RankerModel) -> None:
    """Make ``version`` the active ranker (the current one retires); feeds rebuild soon."""
    if not version.model_text:
        raise ValueError("This version has no model to serve (it was never trained).")
    with transaction.atomic():
        RankerModel.objects.filter(status=RankerModelStatus.ACTIVE).exclude(pk=version.pk).update(
            status=RankerModelStatus.RETIRED
        )
        version.status = RankerModelStatus.ACTIVE
        version.activated_at = timezone.now()
        version.save(update_fields=["status", "activated_at"])
    _refresh_feeds()


def deactivate() -> int:
    """Back to the hand-weighted formula for every feed."""
    with transaction.atomic():
        count = RankerModel.objects.filter(status=RankerModelStatus.ACTIVE).update(
            status=RankerModelStatus.RETIRED
        )
    _refresh_feeds()
    return count


def _refresh_feeds() -> None:
    from newsrec.tasks import feeds_refresh_soon

    transaction.on_commit(lambda: feeds_refresh_soon(delay_seconds=5))
