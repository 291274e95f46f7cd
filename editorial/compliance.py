"""Does every page show what the editors set? The product checks itself against the live rules.

``feeds_check`` reads what readers get (pages through Django's test client, the feed and rails
API, related articles, the template tag) for a sample of readers, and every stored feed built
under the live rules, and reports each article a surface shows against a rule, naming the rule.

- **Hard filters** (blocks, max age, not live) hold on every surface, chronological ones too.
- **Caps** hold on every first K of a ranked surface, as far as its items allow (the surface's
  order must be what ``caps_keep`` would give it: a cap is relaxed only when nothing else fits).
- **Pins by scope**: a section page shows only that section's articles (and its own set's pins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.signing import get_cookie_signer
from django.test import Client
from django.utils import timezone

from editorial.compiler import live_rules, read_rules, rules_compile
from editorial.models import Rule, RuleKind
from newsrec import feeds, readers
from newsrec.engine.diversity import caps_keep
from newsrec.engine.rules import Cap, Filters
from newsrec.models import Article, Feed, Reader, live_at

ARTICLE = re.compile(r'data-newsrec-article="(\d+)"')


@dataclass(frozen=True)
class Violation:
    surface: str  # "home: For you", "API /api/v1/feeds/me/", "stored feed reader:12"
    reader: str  # the reader's public id ("anonymous" for a new visitor)
    article_id: int
    rule: str  # the rule broken, in editors' words

    def __str__(self) -> str:
        return f"{self.surface} [{self.reader}]: article #{self.article_id} breaks {self.rule}"


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    surfaces: int = 0  # surfaces read
    feeds: int = 0  # stored feeds checked
    stale_feeds: int = 0  # stored feeds built under older rules (the read path filters them)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class _Meta:
    pk: int
    section: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    published_at: datetime | None
    live: bool


def _metas(ids: Iterable[int], now: datetime) -> dict[int, _Meta]:
    rows = Article.objects.filter(pk__in=set(ids)).values_list(
        "pk", "section", "tags", "authors", "published_at", "status", "embargo_until"
    )
    return {
        pk: _Meta(
            pk=pk, section=section, tags=tuple(tags or ()), authors=tuple(authors or ()),
            published_at=published,
            live=live_at(status, published, embargo, moment=now),
        )
        for pk, section, tags, authors, published, status, embargo in rows
    }  # fmt: skip


def _blocked(filters: Filters, meta: _Meta, now: datetime) -> bool:
    published = meta.published_at.timestamp() if meta.published_at is not None else None
    return filters.excludes(
        article_id=meta.pk, section=meta.section, tags=meta.tags, authors=meta.authors,
        published_at=published, now=now.timestamp(),
    )  # fmt: skip


class _Checker:
    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self.report = Report()
        self.rows = list(
            Rule.objects.filter(
                rule_set__is_live=True, enabled=True, kind__in=[RuleKind.BLOCK, RuleKind.MAX_AGE]
            ).select_related("rule_set")
        )

    def _rule_for(self, meta: _Meta, scope: tuple[str, str]) -> str:
        """The live rule row that removes ``meta`` in this scope, in editors' words."""
        for row in self.rows:
            if row.rule_set.scope not in ("site", scope[0]) or (
                row.rule_set.scope != "site" and row.rule_set.scope_value != scope[1]
            ):
                continue
            try:
                alone = rules_compile(rules=[row], version=0)
            except Exception:
                continue
            if _blocked(alone.filters, meta, self.now):
                return f"{row} (rule #{row.pk} of “{row.rule_set}”)"
        return "the live blocklists and max age"

    def hard(self, surface: str, reader: str, ids: Sequence[int], *, section: str = "") -> None:
        """Every article shown passes the hard filters of the rules read there."""
        filters = read_rules(section=section).rules.filters
        metas = _metas(ids, self.now)
        self.report.surfaces += 1
        for pk in ids:
            meta = metas.get(pk)
            if meta is None or not meta.live:
                self._add(surface, reader, pk, "not live (retracted, embargoed or deleted)")
            elif _blocked(filters, meta, self.now):
                self._add(surface, reader, pk, self._rule_for(meta, ("section", section)))

    def capped(
        self, surface: str, reader: str, ids: Sequence[int], caps: Sequence[Cap],
        pins: frozenset[int] = frozenset(),
    ) -> None:  # fmt: skip
        """A ranked surface's order keeps every cap of every first K as far as its items allow."""
        if not caps or not ids:
            return
        metas = _metas(ids, self.now)

        def labels(pk: int, name: str) -> Iterable[str]:
            meta = metas.get(pk)
            if meta is None:
                return ()
            if name == "section":
                return (meta.section,) if meta.section else ()
            return meta.tags if name == "tag" else meta.authors

        expected = caps_keep(list(ids), caps, labels, fixed=lambda pk: pk in pins)
        horizon = max(c.top_k for c in caps)
        for position, (shown, wanted) in enumerate(zip(ids, expected, strict=True)):
            if position >= horizon:
                break
            if shown != wanted:
                broken = next((c.describe() for c in caps if position < c.top_k), "a diversity cap")
                self._add(surface, reader, shown, f"the cap {broken} (slot {position + 1})")
                break

    def in_section(self, surface: str, reader: str, ids: Sequence[int], section: str) -> None:
        """A section page shows its own section's articles (site-wide pins stay on the home)."""
        pins = {p.article_id for p in read_rules(section=section).section_pins}
        metas = _metas(ids, self.now)
        for pk in ids:
            meta = metas.get(pk)
            if meta is not None and meta.section != section and pk not in pins:
                self._add(surface, reader, pk, f"the section page of {section} (a pin from "
                          "another scope, or an article of another section)")  # fmt: skip

    def _add(self, surface: str, reader: str, pk: int, rule: str) -> None:
        self.report.violations.append(Violation(surface, reader, pk, rule))


def _block_ids(html: str, heading: str) -> list[int]:
    start = html.find(f'id="{heading}"')
    if start < 0:
        return []
    end = html.find("</ol>", start)
    return [int(i) for i in ARTICLE.findall(html[start : end if end > 0 else None])]


def _host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host == "*":
            return "localhost"
        return f"www{host}" if host.startswith(".") else host
    return "localhost"


def _client_for(reader: Reader | None) -> Client:
    client = Client(SERVER_NAME=_host())
    if reader is None:
        return client
    if reader.user_id is not None:
        client.force_login(reader.user)  # type: ignore[arg-type]
    elif reader.client_id and reader.client_id.startswith("cookie:"):
        salt = readers.COOKIE_NAME + readers.COOKIE_SALT
        token = reader.client_id.removeprefix("cookie:")
        client.cookies[readers.COOKIE_NAME] = get_cookie_signer(salt=salt).sign(token)
    return client


def _site_readers(sample: int) -> list[Reader | None]:
    """Anonymous visitors plus recently seen readers the site can show pages to."""
    recent = (
        Reader.objects.filter(client_id__startswith="cookie:")
        .order_by("-last_seen", "-pk")
        .select_related("user")[:sample]
    )
    users = Reader.objects.filter(user__isnull=False).select_related("user")[: max(sample // 4, 1)]
    return [None, *recent, *users]


def _host_readers(sample: int) -> list[Reader]:
    """Recently seen readers known by the host's own id (events API): no browser session can be
    theirs, so their feeds are read in process, as the API serves them."""
    return list(
        Reader.objects.filter(user__isnull=True)
        .exclude(client_id__startswith="cookie:")
        .exclude(client_id__isnull=True)
        .order_by("-last_seen", "-pk")[:sample]
    )


def feeds_check(*, sample: int = 20, sections: int = 5, now: datetime | None = None) -> Report:
    """Check stored feeds and the surfaces a sample of readers sees against the live rules."""
    from newsrec.selectors import section_names

    now = now or timezone.now()
    checker = _Checker(now=now)
    rules = live_rules()
    caps = rules.diversity.caps
    version = rules.version
    _stored_feeds(checker, version)
    names = section_names()[:sections]
    for reader in _site_readers(sample):
        who = str(reader.public_id) if reader is not None else "anonymous"
        client = _client_for(reader)
        home = client.get("/").content.decode()
        grid = _block_ids(home, "for-you-heading")
        checker.hard("home: For you", who, grid)
        checker.capped("home: For you", who, grid, caps, _pins(rules))
        for n in range(1, 4):
            rail = _block_ids(home, f"byr-{n}")
            checker.hard(f"home: rail {n}", who, rail)
            checker.capped(f"home: rail {n}", who, rail, caps)
        for n in range(1, len(names) + 2):
            checker.hard(f"home: latest block {n}", who, _block_ids(home, f"sec-{n}"))
        checker.hard("home: Trending", who, _block_ids(home, "trending-heading"))
        api = client.get("/api/v1/feeds/me/?limit=50")
        if api.status_code == 200:
            ids = [i["article_id"] for i in api.json()["items"]]
            checker.hard("API feeds/me", who, ids)
            checker.capped("API feeds/me", who, ids, caps, _pins(rules))
        rails = client.get("/api/v1/feeds/me/rails/")
        if rails.status_code == 200:
            for n, rail in enumerate(rails.json().get("rails", []), start=1):
                ids = [i["article_id"] for i in rail["items"]]
                checker.hard(f"API rails {n}", who, ids)
        for name in names:
            page = client.get(f"/section/{name}/").content.decode()
            ids = [int(i) for i in ARTICLE.findall(page)]
            section_caps = read_rules(section=name).rules.diversity.caps
            checker.hard(f"section page {name}", who, ids, section=name)
            checker.in_section(f"section page {name}", who, ids, name)
            checker.capped(f"section page {name}", who, ids, section_caps)
        if grid:
            article = client.get(f"/articles/{grid[0]}/").content.decode()
            for heading in ("continue-heading", "related-heading", "more-heading"):
                checker.hard(f"article page: {heading.split('-')[0]}", who,
                             _block_ids(article, heading))  # fmt: skip
            related = client.get(f"/api/v1/articles/{grid[0]}/related/")
            if related.status_code == 200:
                checker.hard("API related", who, [a["id"] for a in related.json()])
        if reader is not None:
            checker.hard("template tag newsrec_feed", who, _tag_ids(reader))
    for reader in _host_readers(sample):
        who = str(reader.public_id)
        ids = [i["article_id"] for i in feeds.feed_read(reader=reader, limit=50).items]
        checker.hard("API feed of a host reader", who, ids)
        checker.capped("API feed of a host reader", who, ids, caps, _pins(rules))
        checker.hard("template tag newsrec_feed", who, _tag_ids(reader))
        for name in names:
            read = feeds.feed_read(reader=reader, section=name, limit=24)
            ids = [i["article_id"] for i in read.items]
            checker.hard(f"section feed {name}", who, ids, section=name)
            checker.in_section(f"section feed {name}", who, ids, name)
    return checker.report


def _pins(rules: Any) -> frozenset[int]:
    return frozenset(p.article_id for p in rules.pins)


def _tag_ids(reader: Reader) -> list[int]:
    from django.template import Context, Template

    html = Template("{% load newsrec %}{% newsrec_feed reader limit=10 %}").render(
        Context({"reader": reader})
    )
    return [int(i) for i in ARTICLE.findall(html)]


def _stored_feeds(checker: _Checker, version: int, *, batch: int = 500) -> None:
    """Stored feeds built under the live rules hold them; older ones are counted (the read path
    applies the hard filters to them until they are rebuilt). One article query per batch."""
    filters = live_rules().filters
    feeds = Feed.objects.only("key", "items", "rules_version").order_by("pk")
    chunk: list[Feed] = []
    for feed in feeds.iterator(chunk_size=batch):
        checker.report.feeds += 1
        if feed.rules_version < version:
            checker.report.stale_feeds += 1
            continue
        chunk.append(feed)
        if len(chunk) == batch:
            _stored_chunk(checker, chunk, filters)
            chunk = []
    _stored_chunk(checker, chunk, filters)


def _stored_chunk(checker: _Checker, chunk: list[Feed], filters: Filters) -> None:
    metas = _metas((i["article_id"] for feed in chunk for i in feed.items), checker.now)
    for feed in chunk:
        for item in feed.items:
            meta = metas.get(item["article_id"])
            if meta is not None and meta.live and _blocked(filters, meta, checker.now):
                checker._add(f"stored feed {feed.key}", feed.key, meta.pk,
                             checker._rule_for(meta, ("site", "")))  # fmt: skip
