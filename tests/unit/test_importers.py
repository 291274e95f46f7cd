"""File parsers on small inline samples: field mapping, flavours, bad lines (no database)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsrec.importers import (
    AtomImporter,
    ImportFormatError,
    ImportOptions,
    JsonLinesImporter,
    MindNewsImporter,
    ParsedRow,
    RssImporter,
    detect_format,
    get_importer,
    html_to_text,
    title_case,
)
from newsrec.importers.base import parse_problem_reasons
from newsrec.importers.jsonl import huffpost_external_id
from newsrec.ingest import validate_article

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

HUFFPOST = {
    "link": "https://www.huffpost.com/entry/covid-boosters-uptake-us_n_632d719ee4b087fae6feaac9",
    "headline": "Over 4 Million Americans Roll Up Sleeves For Omicron-Targeted COVID Boosters",
    "category": "U.S. NEWS",
    "short_description": "Health experts said it is too early to predict demand.",
    "authors": "Carla K. Johnson, AP",
    "date": "2022-09-23",
}
OWN = {
    "external_id": "a-1",
    "title": "Harbour reopens after storm",
    "section": "Local",
    "tags": ["weather"],
    "published_at": "2026-11-28T09:30:00+01:00",
    "unknown_key": "ignored",
}


def _rows(importer: object, data: bytes) -> list[ParsedRow]:
    return list(importer.read(io.BytesIO(data)))  # type: ignore[attr-defined]


def _jsonl(*lines: object) -> bytes:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()


# --- JSON Lines ---------------------------------------------------------------------------


def test_huffpost_line_is_mapped_and_validates() -> None:
    (row,) = _rows(JsonLinesImporter(), _jsonl(HUFFPOST))
    assert row.number == 1
    assert not row.problems
    art = row.article
    assert art["external_id"] == huffpost_external_id(HUFFPOST["link"])
    assert art["external_id"].startswith("huffpost:")
    assert len(art["external_id"]) == 49
    assert art["title"] == HUFFPOST["headline"]
    assert art["url"] == HUFFPOST["link"]
    assert art["section"] == "U.S. News"
    assert art["lead"] == HUFFPOST["short_description"]
    data = validate_article(art)
    assert data.authors == ("Carla K. Johnson", "AP")
    assert data.published_at == datetime(2022, 9, 23, tzinfo=UTC)
    assert data.language == "en"


def test_huffpost_id_is_deterministic_and_distinct() -> None:
    other = {**HUFFPOST, "link": HUFFPOST["link"].replace("632d", "999d")}
    first, again, second = _rows(JsonLinesImporter(), _jsonl(HUFFPOST, HUFFPOST, other))
    assert first.article["external_id"] == again.article["external_id"]
    assert first.article["external_id"] != second.article["external_id"]


def test_own_format_keeps_known_keys_and_flavour_is_chosen_per_line() -> None:
    own, huff = _rows(JsonLinesImporter(), _jsonl(OWN, HUFFPOST))
    assert own.article["external_id"] == "a-1"
    assert own.article["section"] == "Local"  # own format: not re-cased
    assert "unknown_key" not in own.article
    assert validate_article(own.article).tags == ("weather",)
    assert huff.article["section"] == "U.S. News"


def test_bad_lines_become_problems_with_their_line_number() -> None:
    rows = _rows(
        JsonLinesImporter(),
        _jsonl(OWN, "", "{not json", "[1, 2]", HUFFPOST) + b"\n\xff\xfe{}\n",
    )
    assert [r.number for r in rows] == [1, 3, 4, 5, 6]  # the blank line 2 is skipped
    assert not rows[0].problems
    assert not rows[3].problems
    assert "is not valid JSON" in rows[1].problems["row"]
    assert rows[2].problems == {"row": "must be a JSON object, not list"}
    assert "not valid UTF-8" in rows[4].problems["row"]


def test_huffpost_without_link_fails_validation_not_the_parser() -> None:
    (row,) = _rows(JsonLinesImporter(), _jsonl({**HUFFPOST, "link": None, "headline": ""}))
    reasons = parse_problem_reasons(ParsedRow(1, row.article, {"x": "y"}))
    assert reasons["external_id"] == "is required"
    assert reasons["title"] == "is required"


def test_language_section_and_section_map_options() -> None:
    options = ImportOptions(language="de", section_map={"u.s. news": "US"})
    huff, own = _rows(
        JsonLinesImporter(options=options), _jsonl(HUFFPOST, {**OWN, "language": "fr"})
    )
    assert huff.article["section"] == "US"
    assert huff.article["language"] == "de"
    assert own.article["language"] == "fr"  # the row's own language wins
    forced = ImportOptions(section="Archive")
    (row,) = _rows(JsonLinesImporter(options=forced), _jsonl(HUFFPOST))
    assert row.article["section"] == "Archive"


# --- MIND news.tsv ------------------------------------------------------------------------

MIND_LINE = (
    "N55528\tlifestyle\tlifestyleroyals\tThe Brands Queen Elizabeth Loves\t"
    "Shop the notebooks and jackets.\thttps://assets.msn.com/labs/mind/AAGH0ET.html\t[]\t[]"
)


def test_mind_line_is_mapped() -> None:
    (row,) = _rows(MindNewsImporter(), MIND_LINE.encode() + b"\r\n")
    assert row.article == {
        "external_id": "N55528",
        "title": "The Brands Queen Elizabeth Loves",
        "lead": "Shop the notebooks and jackets.",
        "url": "https://assets.msn.com/labs/mind/AAGH0ET.html",
        "section": "Lifestyle",
        "tags": ["lifestyleroyals"],
        "language": None,
    }
    assert validate_article(row.article).language == "en"


def test_mind_nemig_layouts_and_wrong_column_counts() -> None:
    nemig = "news_5\tprozent_000_deutschland_mehr\tWachsende Kinderarmut\tAbstract\t[]\t[]"
    data = "\n".join([MIND_LINE, nemig, "news_9\tonly\tthree", "", "\t\t\t\t\t\t\t"]).encode()
    rows = _rows(MindNewsImporter(options=ImportOptions(language="de")), data)
    assert [r.number for r in rows] == [1, 2, 3, 5]
    assert rows[1].article["section"] == "Prozent 000 Deutschland Mehr"
    assert rows[1].article["language"] == "de"
    assert "url" not in rows[1].article
    assert rows[2].problems["row"].startswith("has 3 tab-separated columns; expected 8")
    assert rows[2].article["external_id"] == "news_9"
    assert not rows[3].problems  # empty cells: validation rejects it, with field reasons
    reasons = parse_problem_reasons(ParsedRow(5, rows[3].article, {"x": "y"}))
    assert {"external_id", "title"} <= reasons.keys()


def test_mind_header_row_is_skipped() -> None:
    header = (
        "news_id\tcategory\tsubcategory\ttitle\tabstract\turl\ttitle_entities\tabstract_entities"
    )
    rows = _rows(MindNewsImporter(), f"{header}\n{MIND_LINE}\n".encode())
    assert [r.number for r in rows] == [2]


# --- RSS and Atom --------------------------------------------------------------------------


def test_rss_fixture_items() -> None:
    importer = RssImporter()
    with (FIXTURES / "feed_rss.xml").open("rb") as stream:
        importer.check(stream)
        stream.seek(0)
        first, second, broken = importer.read(stream)
    a = validate_article(first.article)
    assert (a.external_id, a.section, a.tags) == ("gazette-1001", "Local", ("Local", "Transport"))
    assert a.lead == "Crossings run to the normal timetable from Monday."
    assert a.body == "The harbour master said the pier was safe.\nRepairs cost £40,000."
    assert a.authors == ("Ada Byrne",)
    assert a.language == "en-gb"
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2026-11-28T09:30:00+01:00"
    b = validate_article(second.article)
    assert b.external_id == "https://news.example.org/2026/11/lifeboat-rescue"  # no guid: link
    assert b.authors == ("Tom Quill", "Mo Ahmed")
    assert b.lead == "Both were taken to hospital as a precaution & later released."
    assert broken.number == 3
    reasons = parse_problem_reasons(broken)
    assert reasons == {
        "title": "is required",
        "published_at": "is not a valid RFC 822 date: 'the day after tomorrow'",
    }


def test_atom_fixture_entries() -> None:
    with (FIXTURES / "feed_atom.xml").open("rb") as stream:
        first, second, broken = AtomImporter().read(stream)
    a = validate_article(first.article)
    assert a.external_id == "tag:courier.example.net,2026:entry-1"
    assert a.title == "Council approves new cycle lanes"
    assert a.url == "https://courier.example.net/cycle-lanes"  # rel=alternate, not rel=edit
    assert a.body == "The vote was 9 to 4.\nWork starts in March."
    assert (a.section, a.tags, a.authors) == (
        "Politics",
        ("Politics", "transport"),
        ("Lena Ortiz",),
    )
    assert a.updated_at is not None
    assert a.updated_at.isoformat() == "2026-11-28T10:15:00+01:00"
    b = validate_article(second.article)
    assert b.language == "de"
    assert b.lead == "Ab Dezember auch sonntags geöffnet."
    assert b.authors == ("Courier Newsdesk",)  # inherited from the feed
    assert b.published_at == b.updated_at  # no <published>: the update time stands in
    assert not broken.problems
    with pytest.raises(Exception, match="published_at") as exc_info:
        validate_article(broken.article)
    assert "title" in str(exc_info.value)


def test_feed_section_option_overrides_first_category() -> None:
    with (FIXTURES / "feed_rss.xml").open("rb") as stream:
        first = next(RssImporter(options=ImportOptions(section="Coast")).read(stream))
    assert first.article["section"] == "Coast"
    assert first.article["tags"] == ["Local", "Transport"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<rss><channel><item><title>open", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b'<!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>', "forbidden construct"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "Expected a RSS document"),
    ],
)
def test_unusable_xml_is_refused_by_check(data: bytes, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        RssImporter().check(io.BytesIO(data))


def test_atom_importer_refuses_rss() -> None:
    with pytest.raises(ImportFormatError, match="found <rss>"):
        list(AtomImporter().read(io.BytesIO(b"<rss><channel/></rss>")))


# --- detection and helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.jsonl", b"", "jsonl"),
        ("news.tsv", b"", "mind"),
        ("feed.xml", b'<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>', "rss"),
        ("feed", b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "atom"),
        ("dump.txt", b'\xef\xbb\xbf  {"external_id": "x"}\n', "jsonl"),
        ("news", MIND_LINE.encode(), "mind"),
    ],
)
def test_detect_format(name: str, data: bytes, expected: str) -> None:
    stream = io.BytesIO(data)
    assert detect_format(Path(name), stream) == expected
    assert stream.tell() == 0


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", b"hello world", "Cannot tell the format"),
        (
            "x.xml",
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
            "Unsupported",
        ),
    ],
)
def test_detect_format_refuses_unknown_content(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        detect_format(Path(name), io.BytesIO(data))


def test_get_importer_unknown_name() -> None:
    with pytest.raises(ImportFormatError, match="Unknown format 'csv'"):
        get_importer("csv")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("U.S. NEWS", "U.S. News"),
        ("STYLE & BEAUTY", "Style & Beauty"),
        ("WOMEN'S HEALTH", "Women's Health"),
        ("food_and_drink", "Food And Drink"),
        ("", ""),
    ],
)
def test_title_case(raw: str, expected: str) -> None:
    assert title_case(raw) == expected


def test_html_to_text() -> None:
    html = "<div><h2>Head</h2><p>One &amp; <i>two</i></p><style>p{}</style><p>Three</p></div>"
    assert html_to_text(html) == "Head\nOne & two\nThree"
    assert html_to_text("Fish &amp;amp; chips") == "Fish &amp; chips"
    assert html_to_text("Profits < 5% this   year") == "Profits < 5% this year"
    assert html_to_text(None) == ""
