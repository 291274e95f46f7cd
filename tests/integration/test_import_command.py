"""`manage.py newsrec_import` on real data slices and the feed fixtures, against PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from newsrec import services
from newsrec.importers.jsonl import huffpost_external_id
from newsrec.models import Article

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Run = Callable[..., str]


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Record embedding requests instead of sending them to a broker nobody consumes here."""
    calls: list[list[int]] = []
    monkeypatch.setattr(
        services, "embed_enqueue", lambda *, article_ids: calls.append(list(article_ids))
    )
    return calls


@pytest.fixture
def run() -> Run:
    def _run(*args: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        call_command("newsrec_import", *args, stdout=out, stderr=err)
        return out.getvalue()

    return _run


def _head(source: Path, target: Path, lines: int) -> Path:
    with source.open(encoding="utf-8") as src:
        target.write_text("".join(islice(src, lines)), encoding="utf-8")
    return target


@pytest.fixture
def huffpost(shared_data: Path, tmp_path: Path) -> Path:
    return _head(
        shared_data / "huffpost" / "news_category_v3_10k.jsonl", tmp_path / "hp.jsonl", 200
    )


def test_huffpost_slice_imports_then_reimport_is_unchanged(huffpost: Path, run: Run) -> None:
    out = run(str(huffpost), "--batch-size", "64")
    assert "200 row(s) read; 200 created, 0 updated, 0 unchanged, 0 rejected." in out
    assert Article.objects.count() == 200
    first = json.loads(huffpost.read_text().splitlines()[0])
    article = Article.objects.get(external_id=huffpost_external_id(first["link"]))
    assert (article.title, article.url, article.section) == (
        first["headline"], first["link"], "U.S. News",
    )  # fmt: skip
    assert article.authors == ["Carla K. Johnson", "AP"]
    assert article.published_at is not None
    assert article.published_at.date().isoformat() == "2022-09-23"
    assert Article.objects.filter(section="Politics").exists()

    again = run(str(huffpost), "--batch-size", "64")
    assert "0 created, 0 updated, 200 unchanged, 0 rejected." in again


def test_dry_run_stores_nothing(huffpost: Path, run: Run) -> None:
    out = run(str(huffpost), "--dry-run")
    assert "Checked hp.jsonl (jsonl): 200 row(s) read; 200 created" in out
    assert "Dry run: nothing was stored" in out
    assert Article.objects.count() == 0


def test_new_articles_are_queued_for_embedding_on_commit(
    huffpost: Path,
    run: Run,
    enqueued: list[list[int]],
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        run(str(huffpost), "--batch-size", "150")
    assert len(enqueued) == 2  # one request per committed batch
    assert sorted(pk for call in enqueued for pk in call) == sorted(
        Article.objects.values_list("pk", flat=True)
    )


def test_bad_rows_are_reported_with_reasons_and_good_rows_stored(
    shared_data: Path, tmp_path: Path, run: Run
) -> None:
    lines = _head(shared_data / "huffpost" / "news_category_v3_10k.jsonl", tmp_path / "a", 5)
    good = lines.read_text().splitlines()
    no_title = {**json.loads(good[1]), "headline": "  "}
    bad_date = {**json.loads(good[2]), "date": "2022-13-45"}
    rows = [good[0], json.dumps(no_title), json.dumps(bad_date), "{oops", good[3], good[4]]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(rows) + "\n")

    out = run(str(path), "--batch-size", "2")
    assert "6 row(s) read; 3 created, 0 updated, 0 unchanged, 3 rejected." in out
    assert Article.objects.count() == 3
    no_title_id = huffpost_external_id(no_title["link"])
    assert f"  line 2 [{no_title_id}]: title: is required" in out
    assert "  line 3 [huffpost:" in out
    assert "published_at: is not a valid ISO 8601 date/time: '2022-13-45'" in out
    assert "  line 4: row: is not valid JSON" in out
    assert not Article.objects.filter(external_id=no_title_id).exists()


def test_lone_surrogates_reject_their_line_and_the_rest_is_stored(tmp_path: Path, run: Run) -> None:
    rows = [
        {"external_id": "j1", "title": "Valid one"},
        {"external_id": "j2", "title": "Bad tag", "tags": ["x\ud800"]},
        {"external_id": "j3-\udc00", "title": "Bad id", "authors": ["\ud800"]},
        {"external_id": "j4", "title": "Valid two"},
    ]
    path = tmp_path / "surrogates.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")  # \uXXXX escapes
    out = run(str(path))
    assert "4 row(s) read; 2 created, 0 updated, 0 unchanged, 2 rejected." in out
    assert "  line 2 [j2]: tags: contains invalid Unicode (lone surrogate)" in out
    assert "  line 3 [j3-\\udc00]: external_id: contains invalid Unicode" in out
    out.encode("utf-8")  # what is printed can be written to a UTF-8 terminal
    assert set(Article.objects.values_list("external_id", flat=True)) == {"j1", "j4"}


def test_rejected_listing_is_capped(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps({"external_id": f"x-{i}"}) for i in range(30)))
    out = run(str(path), "--show-rejected", "5")
    assert "0 created, 0 updated, 0 unchanged, 30 rejected." in out
    assert "Rejected rows (first 5 of 30):" in out
    assert "line 5 [x-4]: title: is required" in out
    assert "line 6 " not in out


def test_nemig_mind_slice_in_german(shared_data: Path, tmp_path: Path, run: Run) -> None:
    path = _head(shared_data / "nemig_de" / "news_kg_all.tsv", tmp_path / "news_kg.tsv", 150)
    out = run(str(path), "--language", "de")
    assert "150 row(s) read; 150 created, 0 updated, 0 unchanged, 0 rejected." in out
    first = path.read_text(encoding="utf-8").splitlines()[0].split("\t")
    article = Article.objects.get(external_id=first[0])
    assert (article.title, article.lead, article.url) == (first[3], first[4], first[5])
    assert article.section == "Frauen Arbeiter Innen Innenklasse"
    assert article.tags == ["kritisches_netzwerk"]
    assert set(Article.objects.values_list("language", flat=True)) == {"de"}
    assert "150 unchanged" in run(str(path), "--language", "de")


def test_nemig_six_column_news_tsv(shared_data: Path, tmp_path: Path, run: Run) -> None:
    path = _head(shared_data / "nemig_de" / "news.tsv", tmp_path / "news.tsv", 40)
    out = run(str(path), "--format", "mind", "--language", "de")
    assert "40 row(s) read; 40 created" in out
    assert Article.objects.filter(url="", language="de").count() == 40


def test_rss_fixture(run: Run) -> None:
    out = run(str(FIXTURES / "feed_rss.xml"))
    assert (
        "Imported feed_rss.xml (rss): 3 row(s) read; 2 created, 0 updated, 0 unchanged, 1 rejected."
        in out
    )
    assert (
        "  item 3 [gazette-1003]: title: is required; "
        "published_at: is not a valid RFC 822 date: 'the day after tomorrow'"
    ) in out
    ferry = Article.objects.get(external_id="gazette-1001")
    assert ferry.tags == ["Local", "Transport"]
    assert ferry.section == "Local"
    assert ferry.body.endswith("Repairs cost £40,000.")
    assert "2 unchanged, 1 rejected." in run(str(FIXTURES / "feed_rss.xml"))


def test_atom_fixture_with_section_option(run: Run) -> None:
    out = run(str(FIXTURES / "feed_atom.xml"), "--section", "Courier")
    assert "(atom): 3 row(s) read; 2 created, 0 updated, 0 unchanged, 1 rejected." in out
    assert "item 3 [tag:courier.example.net,2026:entry-3]: title: is required; published_at:" in out
    assert set(Article.objects.values_list("section", flat=True)) == {"Courier"}
    assert Article.objects.get(external_id__endswith="entry-2").language == "de"


def test_section_map_option(huffpost: Path, run: Run) -> None:
    run(str(huffpost), "--section-map", "u.s. news=US", "--section-map", "Politics=Government")
    sections = set(Article.objects.values_list("section", flat=True))
    assert {"US", "Government"} <= sections
    assert not {"U.S. News", "Politics"} & sections


def test_malformed_xml_is_refused_before_anything_is_stored(tmp_path: Path, run: Run) -> None:
    text = (FIXTURES / "feed_rss.xml").read_text(encoding="utf-8")
    path = tmp_path / "broken.xml"
    path.write_text(text[: text.index("<item>", text.index("</item>"))] + "<item><title>cut off")
    with pytest.raises(CommandError, match=r"broken\.xml: The file is not well-formed XML"):
        run(str(path))
    assert Article.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["does/not/exist.jsonl"], "File not found: does/not/exist.jsonl"),
        (["{fixtures}/feed_rss.xml", "--format", "atom"], "Expected a ATOM document"),
        (["{fixtures}/feed_rss.xml", "--format", "csv"], "invalid choice: 'csv'"),
        (["{fixtures}", "--format", "rss"], "Not a file"),
        (["{fixtures}/feed_rss.xml", "--batch-size", "0"], "must be at least 1"),
        (["{fixtures}/feed_rss.xml", "--section-map", "Local"], "expects SOURCE=SECTION"),
    ],
)
def test_unusable_input_is_a_command_error(args: list[str], message: str, run: Run) -> None:
    with pytest.raises(CommandError, match=message):
        run(*(arg.format(fixtures=FIXTURES) for arg in args))


def test_undetectable_format_is_a_command_error(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some words\n")
    with pytest.raises(CommandError, match=r"Cannot tell the format of notes\.txt; pass --format"):
        run(str(path))


def test_nemig_news_takes_its_dates_from_news_meta(
    shared_data: Path, tmp_path: Path, run: Run
) -> None:
    news = _head(shared_data / "nemig_de" / "news_kg_all.tsv", tmp_path / "news.tsv", 20)
    meta = shared_data / "nemig_de" / "news_meta.tsv"
    out = run(str(news), "--dates", str(meta))
    assert "20 created" in out
    first = Article.objects.get(external_id="news_0")
    assert first.published_at is not None
    assert first.published_at.isoformat() == "2020-12-08T00:00:00+00:00"  # news_meta.tsv's date


def test_a_dates_file_without_its_header_is_a_clear_error(tmp_path: Path, run: Run) -> None:
    news = tmp_path / "news.tsv"
    news.write_text("N1\tnews\tsub\tTitle\tAbstract\thttps://example.org/1\t[]\t[]\n")
    meta = tmp_path / "meta.tsv"
    meta.write_text("N1\t2020-01-01\n")
    with pytest.raises(CommandError, match="expected a header row with news_id"):
        run(str(news), "--dates", str(meta))
    assert not Article.objects.exists()
