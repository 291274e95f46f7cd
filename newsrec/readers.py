"""Reader identity and privacy services: find or create readers, merge, export, erase, opt out."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from pgvector.django import CosineDistance

from newsrec.conf import newsrec_settings
from newsrec.models import Article, Event, Feed, Reader, ReaderProfile, ReaderRisk

COOKIE_NAME = "newsrec_rid"
COOKIE_SALT = "newsrec.reader"
COOKIE_MAX_AGE = 400 * 86_400  # browsers cap cookie lifetime at 400 days
CLIENT_ID_MAX = 128
LAST_SEEN_EVERY = timedelta(minutes=5)  # avoid one UPDATE per request


def cookie_reader_id(request: HttpRequest | Any) -> str | None:
    """The anonymous id in the signed first-party cookie; a forged or edited value is ignored."""
    value = request.get_signed_cookie(COOKIE_NAME, default=None, salt=COOKIE_SALT)
    return value or None


def cookie_set(response: HttpResponse, token: str, *, request: HttpRequest | None = None) -> None:
    """Set the reader cookie: Secure over HTTPS, and always where the site's session cookie is.

    Pass the request so an HTTPS request gets a Secure cookie even where SESSION_COOKIE_SECURE
    is off (newsrec.W001 under ``check --deploy`` warns about the plain-HTTP case).
    """
    secure = settings.SESSION_COOKIE_SECURE or (request is not None and request.is_secure())
    response.set_signed_cookie(
        COOKIE_NAME, token, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE, httponly=True,
        samesite="Lax", secure=secure,
    )  # fmt: skip


_FIND_COLUMNS = frozenset({"client_id", "user_id", "public_id"})


def _find(**lookup: Any) -> Reader | None:
    """The reader matching a unique lookup (columns of the reader table, and ``user__isnull``),
    in one short query. Every request that has a reader asks this: written out, since building
    the ORM's query took longer than running it."""
    where, params = [], []
    for name, value in lookup.items():
        if name == "user__isnull":
            where.append("user_id IS NULL" if value else "user_id IS NOT NULL")
            continue
        if name not in _FIND_COLUMNS:
            raise ValueError(f"Not a reader lookup: {name}")
        where.append(f"{name} = %s")
        params.append(value)
    sql = f"SELECT * FROM {Reader._meta.db_table} WHERE {' AND '.join(where)} LIMIT 1"
    return next(iter(Reader.objects.raw(sql, params)), None)


def _get_or_create(**lookup: Any) -> Reader:
    # Nearly always the reader exists: one plain SELECT, no transaction (savepoint) round trips.
    reader = _find(**lookup)
    if reader is not None:
        return reader
    try:
        with transaction.atomic():
            reader, _ = Reader.objects.get_or_create(**lookup)
    except IntegrityError:  # a concurrent request created it first
        reader = Reader.objects.get(**lookup)
    return reader


def reader_for_user(*, user: AbstractBaseUser) -> Reader:
    return _get_or_create(user_id=user.pk)


def reader_for_client_id(*, client_id: str) -> Reader:
    """The reader a trusted server names by its own id (namespaced apart from cookie ids)."""
    return _get_or_create(client_id=f"api:{client_id}")


def reader_by_reference(*, reference: str) -> Reader | None:
    """The reader a trusted server names: by its own id (as sent with events), else by public id.

    A cookie's token is never a reference: it is the browser's secret, not the host's id.
    """
    reader = _find(client_id=f"api:{reference}")
    if reader is not None:
        return reader
    try:
        public_id = uuid.UUID(reference)
    except ValueError:
        return None
    return _find(public_id=public_id)


def reader_for_cookie(*, token: str | None, create: bool) -> tuple[Reader | None, str | None]:
    """The anonymous reader of a cookie token; with ``create``, a new one (and token) if none."""
    if token:
        reader = _find(client_id=f"cookie:{token}", user__isnull=True)
        if reader is not None or not create:
            return reader, token
    if not create:
        return None, None
    token = secrets.token_urlsafe(18)
    return _get_or_create(client_id=f"cookie:{token}"), token


def reader_for_request(request: Any, *, create: bool) -> tuple[Reader | None, str | None]:
    """The reader behind a browser request (Django or DRF): the logged-in user's, else the cookie's.

    Returns the reader and, when a new anonymous reader was made, the cookie token to set.
    """
    user = getattr(request, "user", AnonymousUser())
    if user.is_authenticated and isinstance(user, AbstractBaseUser):
        reader = reader_for_user(user=user) if create else _find(user_id=user.pk)
        return reader, None
    current = cookie_reader_id(request)
    reader, token = reader_for_cookie(token=current, create=create)
    return reader, (token if token != current else None)


def reader_touch(*, reader: Reader) -> None:
    now = timezone.now()
    if reader.last_seen is None or now - reader.last_seen > LAST_SEEN_EVERY:
        Reader.objects.filter(pk=reader.pk).update(last_seen=now)
        reader.last_seen = now


def reader_merge(*, source: Reader, target: Reader) -> int:
    """Move an anonymous reader's history into another reader, then delete the source.

    Events whose event_id the target already has are the same events sent twice and are dropped.
    The stricter personalisation choice wins. Returns how many events were moved.
    """
    if source.pk == target.pk:
        return 0
    with transaction.atomic():
        locked = {
            r.pk: r
            for r in Reader.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
        }
        if source.pk not in locked or target.pk not in locked:
            return 0
        src, dst = locked[source.pk], locked[target.pk]
        taken = Event.objects.filter(reader=dst).values("event_id")
        Event.objects.filter(reader=src, event_id__in=taken).delete()
        moved = Event.objects.filter(reader=src).update(reader=dst)
        if not src.personalisation_enabled and dst.personalisation_enabled:
            dst.personalisation_enabled = False
            Event.objects.filter(reader=dst).update(profiling_allowed=False)
        dst.last_seen = max(filter(None, [src.last_seen, dst.last_seen]), default=None)
        dst.save(update_fields=["personalisation_enabled", "last_seen"])
        src.delete()
        if dst.personalisation_enabled:
            from newsrec.profiles import profile_schedule

            profile_schedule(reader=dst)
        else:
            ReaderProfile.objects.filter(reader=dst).delete()
    return moved


def reader_adopt_on_login(*, request: Any, user: AbstractBaseUser) -> Reader | None:
    """At login, the cookie's anonymous reader becomes (or merges into) the user's reader."""
    token = cookie_reader_id(request)
    if not token:
        return None
    anonymous = Reader.objects.filter(client_id=f"cookie:{token}", user__isnull=True).first()
    if anonymous is None:
        return None
    existing = Reader.objects.filter(user_id=user.pk).first()
    if existing is None:
        # First login: the anonymous reader simply becomes the user's, keeping its history.
        try:
            with transaction.atomic():
                updated = Reader.objects.filter(pk=anonymous.pk, user__isnull=True).update(
                    user=user, client_id=None
                )
        except IntegrityError:  # a concurrent request gave the user a reader meanwhile
            updated = 0
        if updated:
            return Reader.objects.get(pk=anonymous.pk)
        existing = reader_for_user(user=user)
    reader_merge(source=anonymous, target=existing)
    return existing


def personalisation_set(*, reader: Reader, enabled: bool) -> Reader:
    """Opt in or out. Out: the profile and the personal feed are deleted, and new events are
    stored but never profiled (the reader sees the non-personalised feed)."""
    with transaction.atomic():
        # The update waits for a feed write of this reader under way (it holds the row shared),
        # so the delete below sees that feed; later writes skip readers who opted out.
        Reader.objects.filter(pk=reader.pk).update(personalisation_enabled=enabled)
        reader.personalisation_enabled = enabled
        if not enabled:
            ReaderProfile.objects.filter(reader=reader).delete()
            Feed.objects.filter(reader=reader).delete()
            ReaderRisk.objects.filter(reader=reader).delete()  # churn risk is a profile too
        else:
            from newsrec.profiles import profile_schedule

            profile_schedule(reader=reader)
    return reader


def reader_erase(*, reader: Reader) -> dict[str, int]:
    """Delete a reader and every row that refers to them (cascades); returns counts per model."""
    from newsrec.profiles import profile_pending_clear

    public_id = str(reader.public_id)
    with transaction.atomic():
        # Locked first: a feed rebuild writing this reader's feed finishes before the cascade
        # looks for it (and one starting later sees the reader gone), never failing the erase.
        list(Reader.objects.select_for_update().filter(pk=reader.pk).values_list("pk"))
        _total, per_model = Reader.objects.filter(pk=reader.pk).delete()
    profile_pending_clear(public_id=public_id)
    return per_model


def reader_interests(*, reader: Reader, limit: int = 5) -> dict[str, Any]:
    """The profile in words: strongest sections, tags and authors, and nearest article titles."""
    profile = ReaderProfile.objects.filter(reader=reader).first()
    if profile is None:
        return {"sections": [], "tags": [], "authors": [], "nearest_articles": [], "style": ""}

    def top(weights: dict[str, float]) -> list[str]:
        return [k for k, v in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0][
            :limit
        ]

    nearest: list[str] = []
    if profile.interest_vector is not None:
        nearest = list(
            Article.objects.published()
            .embedded()
            .order_by(CosineDistance("embedding", profile.interest_vector))
            .values_list("title", flat=True)[:limit]
        )
    style = ""
    if profile.sessions:
        style = "binge" if profile.avg_session_depth >= 3 else "sample"
    return {
        "sections": top(profile.section_affinity),
        "tags": top(profile.tag_affinity),
        "authors": top(profile.author_affinity),
        "nearest_articles": nearest,
        "style": style,
    }


_EVENT_FIELDS = (
    "event_id", "kind", "article_id", "article__title", "occurred_at", "received_at",
    "dwell_seconds", "read_depth", "feed_slot", "surface", "recommendation_id", "device",
    "local_hour", "weekday", "referrer", "session_id", "profiling_allowed",
)  # fmt: skip


def reader_export(*, reader: Reader) -> dict[str, Any]:
    """Everything stored about a reader, as JSON-ready data."""
    from newsrec.retention.selectors import reader_risk_export

    profile = ReaderProfile.objects.filter(reader=reader).first()
    profile_data: dict[str, Any] | None = None
    if profile is not None:
        profile_data = {
            "interest_vector": None
            if profile.interest_vector is None
            else [round(float(x), 6) for x in profile.interest_vector],
            "section_affinity": profile.section_affinity,
            "tag_affinity": profile.tag_affinity,
            "author_affinity": profile.author_affinity,
            "context_habits": profile.context_habits,
            "sessions": profile.sessions,
            "avg_session_depth": profile.avg_session_depth,
            "completion_rate": profile.completion_rate,
            "last_event_at": profile.last_event_at,
            "events_counted": profile.events_counted,
            "updated": profile.updated,
        }
    events = [
        {("article_title" if k == "article__title" else k): v for k, v in row.items()}
        for row in Event.objects.filter(reader=reader)
        .order_by("occurred_at", "event_id")
        .values(*_EVENT_FIELDS)
    ]
    return {
        "reader": {
            "id": str(reader.public_id),
            "logged_in": reader.user_id is not None,
            "personalisation_enabled": reader.personalisation_enabled,
            "created": reader.created,
            "last_seen": reader.last_seen,
        },
        "events": events,
        "profile": profile_data,
        "interests": reader_interests(reader=reader),
        "churn_risk": reader_risk_export(reader=reader),
    }


def events_purge_expired(*, batch_size: int = 10_000) -> int:
    """Delete events older than NEWSREC['EVENT_RETENTION_DAYS']; their readers' profiles refresh."""
    cutoff = timezone.now() - timedelta(days=float(newsrec_settings.EVENT_RETENTION_DAYS))
    deleted = 0
    touched: set[int] = set()
    while True:
        with transaction.atomic():
            ids = list(
                Event.objects.filter(occurred_at__lt=cutoff).values_list("pk", "reader_id")[
                    :batch_size
                ]
            )
            if not ids:
                break
            touched.update(r for _, r in ids)
            deleted += Event.objects.filter(pk__in=[pk for pk, _ in ids]).delete()[0]
    if touched:
        from newsrec.profiles import profile_schedule

        for reader in Reader.objects.filter(pk__in=touched, personalisation_enabled=True):
            profile_schedule(reader=reader)
    return deleted
