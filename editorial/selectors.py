"""Reads of the editors' app: catalogue look-ups for rule forms, and the dashboard figures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, Func, Min, Q, QuerySet
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.models import Article, Feed
from newsrec.numbers import ascii_int
from newsrec.selectors import section_names

LOOKUP_LIMIT = 20
ARRAY_FIELDS = {"tag": "tags", "author": "authors"}


def live_articles() -> QuerySet[Article]:
    """Articles that can be in the live pool (live, embedded, within FEED_POOL_DAYS)."""
    qs = Article.objects.published().embedded()
    if newsrec_settings.FEED_POOL_DAYS:
        since = timezone.now() - timedelta(days=newsrec_settings.FEED_POOL_DAYS)
        qs = qs.filter(published_at__gte=since)
    return qs


def pool_value_count(field: str) -> int:
    """Distinct sections, tags or authors among live articles (can a cap be met?)."""
    qs = live_articles()
    if field == "section":
        return qs.exclude(section="").values("section").distinct().count()
    column = ARRAY_FIELDS[field]
    return (
        qs.annotate(value=Func(F(column), function="unnest"))
        .values("value")
        .distinct()
        .order_by()
        .count()
    )


def article_label(article: Article) -> str:
    return f"{article.title} [#{article.pk}]"


def article_titles(*, ids: Iterable[int]) -> dict[int, str]:
    """Titles by article id, for naming rules' articles as editors know them."""
    return dict(Article.objects.filter(pk__in=list(ids)).values_list("pk", "title"))


def target_lookup(*, field: str, query: str, limit: int = LOOKUP_LIMIT) -> list[dict[str, str]]:
    """Names matching ``query`` for the rule form: sections, tags, authors, or articles by title."""
    query = query.strip()
    if field == "article":
        qs = Article.objects.filter(title__icontains=query) if query else Article.objects.all()
        if (pk := ascii_int(query, low=1)) is not None:
            qs = Article.objects.filter(pk=pk) | qs
        rows = qs.order_by("-published_at", "-id")[:limit]
        return [
            {"value": article_label(a), "label": f"{a.section} · {a.get_status_display()}"}
            for a in rows
        ]
    if field == "section":
        sections = (
            Article.objects.exclude(section="")
            .filter(section__icontains=query)
            .values("section")
            .annotate(n=Count("id"))
            .order_by("-n", "section")[:limit]
        )
        return [{"value": s["section"], "label": f"{s['n']} articles"} for s in sections]
    if field not in ARRAY_FIELDS:
        return []
    column = ARRAY_FIELDS[field]  # one of two constants, safe to format into the SQL
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v, count(*) FROM newsrec_article, unnest({column}) v "
            "WHERE v ILIKE %s GROUP BY v ORDER BY 2 DESC, 1 LIMIT %s",
            [f"%{query}%", limit],
        )
        return [{"value": v, "label": f"{n} articles"} for v, n in cursor.fetchall()]


def scope_lookup(*, scope: str, query: str, limit: int = LOOKUP_LIMIT) -> list[dict[str, str]]:
    """Values for a rule set's scope: section names, device classes, or experiment variants
    ("Experiment: variant [#id]"; holdouts are left out, rules cannot shape them)."""
    from editorial.models import SCOPE_DEVICES, Scope, Variant, VariantKind

    query = query.strip()
    if scope == Scope.SECTION:
        return target_lookup(field="section", query=query, limit=limit)
    if scope == Scope.DEVICE:
        return [{"value": d, "label": "device class"} for d in SCOPE_DEVICES if query in d]
    if scope == Scope.VARIANT:
        variants = (
            Variant.objects.select_related("experiment")
            .exclude(kind=VariantKind.HOLDOUT)
            .filter(Q(name__icontains=query) | Q(experiment__name__icontains=query))
            .order_by("-experiment__created", "id")[:limit]
        )
        return [
            {"value": f"{v} [#{v.pk}]", "label": v.experiment.get_status_display()}
            for v in variants
        ]
    return []


def article_for_label(value: str) -> Article | None:
    """The article an editor picked: "Title [#12]", "12", or an exact, unique title."""
    import re

    value = value.strip()
    match = re.search(r"\[#(\d+)\]\s*$", value)
    if match or value.isdigit():
        pk = ascii_int(match.group(1) if match else value, low=1)
        return Article.objects.filter(pk=pk).first() if pk is not None else None
    found = list(Article.objects.filter(title__iexact=value)[:2])
    return found[0] if len(found) == 1 else None


# --- Dashboard ---------------------------------------------------------------------------------


def feeds_freshness() -> dict[str, Any]:
    """How many feeds are stored and the age of the oldest one."""
    row = Feed.objects.aggregate(count=Count("id"), oldest=Min("built_at"))
    oldest: datetime | None = row["oldest"]
    return {
        "feeds": row["count"],
        "oldest": oldest,
        "oldest_age_seconds": (timezone.now() - oldest).total_seconds() if oldest else None,
    }


_TOP_ITEMS = """
SELECT (item->>'article_id')::bigint AS article_id, count(*) AS feeds
FROM newsrec_feed, json_array_elements(items) WITH ORDINALITY AS x(item, pos)
WHERE built_at >= %s AND pos <= %s
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s
"""

_SECTION_MIX = """
SELECT coalesce(item->>'section', ''), count(*)
FROM newsrec_feed, json_array_elements(items) WITH ORDINALITY AS x(item, pos)
WHERE pos <= %s GROUP BY 1 ORDER BY 2 DESC
"""


def top_articles_today(*, top: int = 10, limit: int = 10) -> list[dict[str, Any]]:
    """Articles in the top ``top`` slots of the most feeds built today."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(_TOP_ITEMS, [today, top, limit])
        rows = cursor.fetchall()
    titles = dict(Article.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "title"))
    sections = dict(
        Article.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "section")
    )
    return [
        {"article_id": a, "title": titles.get(a, f"#{a}"), "section": sections.get(a, ""),
         "feeds": n}
        for a, n in rows
    ]  # fmt: skip


def section_mix(*, top: int = 10) -> tuple[int, dict[str, float]]:
    """(feeds, {section: share of the top ``top`` slots over every stored feed})."""
    with connection.cursor() as cursor:
        cursor.execute(_SECTION_MIX, [top])
        rows = cursor.fetchall()
    total = sum(n for _, n in rows)
    feeds = Feed.objects.count()
    return feeds, {s or "(none)": n / total for s, n in rows} if total else {}


# --- Targets that match nothing (typos) ----------------------------------------------------


def _known_values(field: str) -> list[str]:
    """Every section, tag or author of a live article (what a rule can match)."""
    if field == "section":
        return section_names()
    live = Article.objects.published()
    column = ARRAY_FIELDS[field]
    return list(
        live.annotate(value=Func(F(column), function="unnest"))
        .values_list("value", flat=True)
        .distinct()
        .order_by()
    )


def _matches(field: str, value: str) -> bool:
    live = Article.objects.published()
    if field == "section":
        return live.filter(section=value).exists()
    return live.filter(**{f"{ARRAY_FIELDS[field]}__contains": [value]}).exists()


def target_warnings(rules: Iterable[Any]) -> list[str]:
    """What editors should hear about rules whose target matches no live article (a typo such
    as "Sciense", or an article that is not live), with a "did you mean" where one is close."""
    import difflib

    warnings: list[str] = []
    known: dict[str, list[str]] = {}
    for rule in rules:
        value = (rule.target_value or "").strip()
        if not rule.enabled or not value:
            continue
        if rule.target_field == "article":
            pk = ascii_int(value, low=1)
            if pk is not None and not Article.objects.published().filter(pk=pk).exists():
                warnings.append(f"{rule}: article #{pk} is not live, so the rule does nothing.")
            continue
        field = rule.target_field
        if field not in ("section", *ARRAY_FIELDS) or _matches(field, value):
            continue
        names = known.setdefault(rule.target_field, _known_values(rule.target_field))
        by_lower = {name.lower(): name for name in names}
        close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
        hint = f" Did you mean “{by_lower[close[0]]}”?" if close else ""
        warnings.append(
            f"{rule}: no live article has the {rule.target_field} “{value}”, so the rule "
            f"matches nothing.{hint}"
        )
    return warnings
