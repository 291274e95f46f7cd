"""Property: for random pools, readers and rule sets, every feed satisfies every active rule."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsrec.engine import (
    ArticleMeta,
    Boost,
    Cap,
    ConflictKind,
    Context,
    Diversity,
    Filters,
    FreshSource,
    Interest,
    Pin,
    Pool,
    Ranker,
    ReaderState,
    Rules,
    Seed,
    Segment,
    default_sources,
)
from newsrec.engine.rules import pin_active
from newsrec.engine.types import FeedResult
from tests.unit.engine.builders import DIM, HOUR, NOW

SECTIONS = ["Politics", "Sport", "Science", "Culture", ""]
AUTHORS = ["Ada", "Bo", "Cy"]
TAGS = ["a", "b", "c", "d"]
# every live article is a candidate, so "satisfiable" can be judged from the pool alone
RANKER = Ranker(
    [s for s in default_sources() if s.name != "fresh"]
    + [FreshSource(window_hours=1e6, limit=10**6)]
)

vectors = st.lists(st.floats(-1, 1, allow_nan=False), min_size=DIM, max_size=DIM)


@st.composite
def articles(draw: st.DrawFn) -> list[ArticleMeta]:
    count = draw(st.integers(0, 30))
    return [
        ArticleMeta(
            article_id=i + 1,
            title=f"Story {i + 1}",
            embedding=draw(vectors),
            published_at=NOW - draw(st.floats(-5, 100)) * HOUR,
            section=draw(st.sampled_from(SECTIONS)),
            authors=tuple(draw(st.sets(st.sampled_from(AUTHORS), max_size=2))),
            tags=tuple(draw(st.sets(st.sampled_from(TAGS), max_size=3))),
            trending=draw(st.floats(0, 100)),
            editor_pick=draw(st.booleans()),
            retracted=draw(st.integers(0, 9)) == 0,
            embargo_until=draw(st.none() | st.floats(NOW - HOUR, NOW + HOUR)),
        )
        for i in range(count)
    ]


ids = st.integers(1, 33)  # a few ids are not in the pool


@st.composite
def readers(draw: st.DrawFn) -> ReaderState:
    return ReaderState(
        reader_id=1,
        interests=tuple(Interest(v) for v in draw(st.lists(vectors, max_size=2))),
        seeds=tuple(Seed(a, draw(st.floats(0.1, 2))) for a in draw(st.sets(ids, max_size=3))),
        read_ids=frozenset(draw(st.sets(ids, max_size=5))),
        hidden_ids=frozenset(draw(st.sets(ids, max_size=3))),
        unclicked_impressions={a: draw(st.integers(0, 9)) for a in draw(st.sets(ids, max_size=3))},
        section_affinity={s: 1.0 for s in draw(st.sets(st.sampled_from(SECTIONS[:4]), max_size=2))},
        personalisation_enabled=draw(st.booleans()),
    )


windows = st.tuples(
    st.none() | st.floats(NOW - 100, NOW), st.none() | st.floats(NOW + 1, NOW + 100)
)


@st.composite
def rule_sets(draw: st.DrawFn) -> Rules:
    pins = []
    for _ in range(draw(st.integers(0, 4))):
        start, end = draw(windows) if draw(st.booleans()) else (None, None)
        if draw(st.booleans()):
            start, end = NOW + 10, NOW + 20  # not active yet
        pins.append(
            Pin(
                article_id=draw(ids),
                slot=draw(st.integers(1, 14)),
                priority=draw(st.integers(0, 2)),
                created_at=draw(st.floats(0, 10)),
                segment=Segment(
                    devices=frozenset(draw(st.sets(st.sampled_from(["mobile", "desktop"]))))
                ),
                valid_from=start,
                valid_until=end,
            )
        )
    caps = [
        Cap(
            field=draw(st.sampled_from(["section", "tag", "author"])),
            max_per_value=draw(st.integers(0, 3)),
            top_k=draw(st.integers(1, 12)),
            values=frozenset(
                draw(st.sets(st.sampled_from(SECTIONS[:4] + TAGS + AUTHORS), max_size=2))
            ),
            rule_id=i,
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    return Rules(
        filters=Filters(
            blocked_sections=frozenset(draw(st.sets(st.sampled_from(SECTIONS[:4]), max_size=1))),
            blocked_tags=frozenset(draw(st.sets(st.sampled_from(TAGS), max_size=1))),
            blocked_authors=frozenset(draw(st.sets(st.sampled_from(AUTHORS), max_size=1))),
            blocked_articles=frozenset(draw(st.sets(ids, max_size=3))),
            max_age_hours=draw(st.none() | st.floats(1, 120)),
            max_age_hours_by_section={
                s: draw(st.floats(1, 120))
                for s in draw(st.sets(st.sampled_from(SECTIONS[:4]), max_size=2))
            },
        ),
        boosts=tuple(
            Boost(field, value, draw(st.floats(0.1, 10)))  # type: ignore[arg-type]
            for field, value in draw(
                st.lists(
                    st.sampled_from(
                        [("section", "Sport"), ("tag", "a"), ("author", "Bo"), ("article", 3)]
                    ),
                    max_size=3,
                )
            )
        ),
        pins=tuple(pins),
        diversity=Diversity(caps=tuple(caps), mmr_lambda=draw(st.floats(0, 1))),
    )


def eligible_rows(pool: Pool, rules: Rules, reader: ReaderState, context: Context) -> set[int]:
    """Recomputed from the rules, independently of the engine's masks."""
    f = rules.filters
    out = set()
    for row, article_id in enumerate(pool.ids.tolist()):
        section = pool.section_of(row)
        age = (context.now - pool.published_at[row]) / HOUR
        limit = f.max_age_hours_by_section.get(section, f.max_age_hours)
        embargo = pool.embargo_until[row]
        if (
            pool.retracted[row]
            or pool.published_at[row] > context.now
            or embargo > context.now
            or section in f.blocked_sections
            or set(pool.tags.of(row)) & f.blocked_tags
            or set(pool.authors.of(row)) & f.blocked_authors
            or article_id in f.blocked_articles
            or (limit is not None and age > limit)
            or article_id in reader.read_ids | reader.hidden_ids
        ):
            continue
        out.add(row)
    return out


def winning_pins(
    pool: Pool, rules: Rules, reader: ReaderState, context: Context, ok: set[int], n: int
) -> list[Pin]:
    order = sorted(
        (
            (p.priority, p.created_at, i, p)
            for i, p in enumerate(rules.pins)
            if pin_active(p, context) and p.segment.matches(reader, context)
        ),
        key=lambda c: c[:3],
        reverse=True,
    )
    slots: set[int] = set()
    articles: set[int] = set()
    won = []
    for *_, pin in order:
        if (
            pool.index.get(pin.article_id) in ok
            and pin.slot <= n
            and pin.slot not in slots
            and pin.article_id not in articles
        ):
            slots.add(pin.slot)
            articles.add(pin.article_id)
            won.append(pin)
    return won


def labels(pool: Pool, cap: Cap, row: int) -> set[str]:
    values = {"section": pool.sections, "tag": pool.tags, "author": pool.authors}[cap.field].of(row)
    return {v for v in values if not cap.values or v in cap.values}


def check(
    pool: Pool, reader: ReaderState, rules: Rules, context: Context, result: FeedResult, n: int
) -> None:
    ok = eligible_rows(pool, rules, reader, context)
    rows = [pool.index[a] for a in result.article_ids]
    assert len(rows) == len(set(rows)), "no duplicates"
    assert set(rows) <= ok, "no blocked, too old, not live, read or hidden article"
    assert len(rows) == min(n, len(ok)), "the feed is as full as the rules allow"
    kinds = [c.kind for c in result.conflicts]

    pins = winning_pins(pool, rules, reader, context, ok, n)
    pinned_ids = {p.article_id for p in pins}
    assert {i.article_id for i in result.items if i.pinned} == pinned_ids
    for pin in pins:
        if pin.slot <= len(rows):
            assert result.article_ids[pin.slot - 1] == pin.article_id, "pins hold their slots"
        else:
            assert ConflictKind.PIN_MOVED in kinds

    for cap in rules.diversity.caps:
        top = rows[: cap.top_k]
        counts = Counter(v for r in top for v in labels(pool, cap, r))
        from_pins = Counter(
            v for i, r in enumerate(top) if result.items[i].pinned for v in labels(pool, cap, r)
        )
        broken = [v for v, c in counts.items() if c > max(cap.max_per_value, from_pins[v])]
        if broken:
            assert any(
                c.kind == ConflictKind.CAP_UNMET and c.rule_id == cap.rule_id
                for c in result.conflicts
            )
        if len(rules.diversity.caps) == 1 and cap.field == "section":
            # one single-valued cap: greedy filling is optimal, so "unmet" means unsatisfiable
            free_slots = sum(1 for i in range(len(top)) if not result.items[i].pinned)
            spare = Counter(
                v for r in ok - {pool.index[a] for a in pinned_ids} for v in labels(pool, cap, r)
            )
            unlimited = sum(
                1 for r in ok - {pool.index[a] for a in pinned_ids} if not labels(pool, cap, r)
            )
            supply = unlimited + sum(
                min(c, max(0, cap.max_per_value - from_pins[v])) for v, c in spare.items()
            )
            if supply >= free_slots:
                assert not broken, f"satisfiable cap broken: {cap.describe()}"
                assert ConflictKind.CAP_UNMET not in kinds


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool_articles=articles(),
    reader=readers(),
    rules=rule_sets(),
    device=st.sampled_from(["", "mobile", "desktop"]),
    n=st.integers(1, 12),
)
def test_every_feed_satisfies_every_active_rule(
    pool_articles: list[ArticleMeta], reader: ReaderState, rules: Rules, device: str, n: int
) -> None:
    pool = Pool.from_articles(pool_articles, dimensions=DIM)
    context = Context(now=NOW, device=device, local_hour=8)
    result = RANKER.rank(pool, reader, context, rules, n=n)
    check(pool, reader, rules, context, result, n)
    batch = RANKER.rank_many(pool, [reader, reader], context, rules, n=n)
    assert batch[0].article_ids == batch[1].article_ids == result.article_ids
