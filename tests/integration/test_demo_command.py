"""The demo's own articles and ``manage.py newsrec_demo``: content, logins, idempotent reloads."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from demo.content import rows as demo_rows
from newsrec import embedders, services
from newsrec.ingest import validate_article
from newsrec.models import Article, EmbeddingStatus

pytestmark = pytest.mark.django_db


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("newsrec_demo", *args, stdout=out, stderr=io.StringIO(), verbosity=0)
    return out.getvalue()


def forbid_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder must not be touched")

    # services imported get_embedder by name, so patch both references.
    monkeypatch.setattr(embedders, "get_embedder", refuse)
    monkeypatch.setattr(services, "get_embedder", refuse)
    monkeypatch.setattr(services, "articles_embed", refuse)


@pytest.fixture
def small_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The first ten demo rows as the demo file, to keep real-model work small."""
    lines = demo_rows.DEMO_ARTICLES.read_text(encoding="utf-8").splitlines()[:10]
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(demo_rows, "DEMO_ARTICLES", path)
    return path


def test_demo_file_is_varied_valid_and_timed() -> None:
    raw = demo_rows.read_demo_file(demo_rows.DEMO_ARTICLES)
    now = timezone.now()
    rows = demo_rows.dated_rows(raw, anchor=demo_rows.fresh_anchor(now))
    articles = [validate_article(row) for row in rows]  # raises on any invalid row
    assert len(articles) >= 300
    assert len({a.external_id for a in articles}) == len(articles)
    assert len({a.title for a in articles}) == len(articles)
    sections = Counter(a.section for a in articles)
    assert len(sections) >= 10
    assert min(sections.values()) >= 15
    assert all(2 <= len(a.tags) <= 4 and 1 <= len(a.authors) <= 2 for a in articles)
    assert all(a.lead and 2 <= len(a.body.split("\n\n")) <= 4 for a in articles)
    assert all(a.url.startswith("https://ledger.example/") for a in articles)
    statuses = Counter(a.status for a in articles)
    assert statuses["draft"] >= 3
    assert statuses["retracted"] >= 1
    times = [
        a.published_at
        for a in articles
        if a.status == "published" and a.embargo_until is None and a.published_at is not None
    ]
    assert len(times) == sum(a.status == "published" and a.embargo_until is None for a in articles)
    assert all(now - timedelta(days=11) < t <= now for t in times)
    assert sum(t > now - timedelta(days=2) for t in times) > len(times) / 4  # denser recently
    embargoes = [a.embargo_until for a in articles if a.embargo_until is not None]
    assert len(embargoes) >= 3
    assert all(t > now for t in embargoes)
    # Tags come from per-section vocabularies, so they overlap within a section.
    tag_use = Counter(tag for a in articles for tag in a.tags)
    assert sum(count >= 5 for count in tag_use.values()) >= 40


def test_anchor_is_reused_while_recent_and_renewed_when_stale() -> None:
    raw = [{"external_id": "d-1", "published_ago_hours": 5.5}]
    now = timezone.now()
    earlier = demo_rows.fresh_anchor(now - timedelta(days=1))
    stored = {"d-1": earlier - timedelta(hours=5.5)}
    assert demo_rows.choose_anchor(raw, now=now, stored=stored) == (earlier, True)
    stale = {"d-1": now - timedelta(days=4)}
    assert demo_rows.choose_anchor(raw, now=now, stored=stale) == (
        demo_rows.fresh_anchor(now),
        False,
    )
    assert demo_rows.choose_anchor(raw, now=now, stored={}) == (demo_rows.fresh_anchor(now), False)


def test_malformed_demo_file_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_text('{"external_id": "x", "title": "ok"}\n{"external_id": oops}\n')
    monkeypatch.setattr(demo_rows, "DEMO_ARTICLES", path)
    with pytest.raises(CommandError, match=r"articles.jsonl:2: invalid JSON"):
        run_demo("--no-embed")
    path.write_text(json.dumps({"external_id": "x", "published_ago_hours": "soon"}))
    with pytest.raises(CommandError, match="published_ago_hours must be a non-negative number"):
        run_demo("--no-embed")


def test_second_run_changes_nothing_and_never_loads_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    total = len(demo_rows.read_demo_file(demo_rows.DEMO_ARTICLES))
    # Stand in for a finished first embedding pass so the second run has nothing to embed.
    first = run_demo("--no-embed")
    assert f"{total} created, 0 updated, 0 unchanged, 0 rejected" in first
    assert Article.objects.embedded().count() == 0
    Article.objects.update(embedding=[0.1] * 384, embedding_status=EmbeddingStatus.READY)
    forbid_embedder(monkeypatch)
    second = run_demo()
    assert f"0 created, 0 updated, {total} unchanged, 0 rejected" in second
    assert "kept from the earlier load" in second
    live = Article.objects.published().count()
    assert f"Demo ready: {total} articles ({live} live), {total} embedded." in second
    assert 300 <= live < total  # drafts, retractions and embargoes are not live


def test_stale_demo_is_redated_to_look_fresh(
    small_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_now = timezone.now()
    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: real_now - timedelta(days=4))
        run_demo("--no-embed")
    old = Article.objects.get(external_id="demo-0001").published_at
    assert old is not None
    out = run_demo("--no-embed")
    assert "0 created, 10 updated, 0 unchanged" in out
    assert "set to now" in out
    new = Article.objects.get(external_id="demo-0001").published_at
    assert new is not None
    assert new - old > timedelta(days=3)
    assert new <= real_now


def test_demo_logins_and_groups(small_demo: Path) -> None:
    run_demo("--no-embed")
    run_demo("--no-embed")  # idempotent
    user_model = get_user_model()
    editor = user_model.objects.get(username="editor")
    senior = user_model.objects.get(username="senior")
    assert editor.check_password("editor-demo-password")
    assert editor.is_staff
    assert not editor.is_superuser
    assert senior.check_password("senior-demo-password")
    assert senior.is_staff
    assert not senior.is_superuser
    assert set(editor.groups.values_list("name", flat=True)) == {"Editor"}
    assert set(senior.groups.values_list("name", flat=True)) == {"Senior editor"}
    for group in Group.objects.filter(name__in=["Editor", "Senior editor"]):
        assert group.permissions.filter(content_type__app_label="newsrec").exists()
    assert editor.has_perm("editorial.change_rule")
    assert editor.has_perm("editorial.preview_ruleset")
    assert editor.has_perm("newsrec.change_article")
    assert not editor.has_perm("editorial.publish_ruleset")
    assert not editor.has_perm("newsrec.add_apikey")
    assert senior.has_perm("editorial.publish_ruleset")
    assert senior.has_perm("newsrec.change_article")
    assert senior.has_perm("newsrec.add_apikey")
    for user in (editor, senior):
        assert not user.has_perm("newsrec.view_reader_data")
        assert not user.has_perm("auth.change_user")


def test_no_embed_leaves_vectors_to_the_worker(
    small_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_embedder(monkeypatch)
    out = run_demo("--no-embed")
    assert "Demo ready: 10 articles" in out
    assert ", 0 embedded." in out
    assert Article.objects.needing_embedding().count() == 10


def test_embeds_with_the_real_model(small_demo: Path) -> None:
    out = run_demo()
    assert "Embedded 10 article(s); 0 failed." in out
    assert "10 embedded." in out
    assert Article.objects.filter(embedding_status=EmbeddingStatus.READY).count() == 10
    vector = Article.objects.get(external_id="demo-0001").embedding
    assert vector is not None
    assert len(vector) == 384
    # The first four rows are one story (the tram line): its follow-ups are its nearest
    # neighbours. Exact cosine here: the HNSW index of a test database is full of rolled-back
    # copies of these very vectors, which makes its approximate answer vary from run to run
    # (its recall is measured by bench/related.py).
    rows = list(Article.objects.values_list("external_id", "embedding"))
    vectors = np.asarray([v for _, v in rows], dtype=np.float32)
    tram = vectors[[e for e, _ in rows].index("demo-0001")]
    nearest = [rows[i][0] for i in np.argsort(-(vectors @ tram))[1:4]]
    assert set(nearest) == {"demo-0002", "demo-0003", "demo-0004"}


def test_data_option_runs_the_importer(tmp_path: Path, small_demo: Path) -> None:
    pytest.importorskip("newsrec.management.commands.newsrec_import")
    path = tmp_path / "extra.jsonl"
    row = {"external_id": "extra-1", "title": "Imported alongside the demo", "section": "Local"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    run_demo("--no-embed", "--data", str(path))
    assert Article.objects.filter(external_id="extra-1").exists()
