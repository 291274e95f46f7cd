"""Validation and text composition of incoming articles (no database)."""

from __future__ import annotations

import pytest

from newsrec.ingest import (
    ArticleRejected,
    compose_embedding_text,
    validate_article,
    validate_rows,
)

VALID = {
    "external_id": "a-1",
    "title": "Harbour reopens after storm",
    "lead": "Ferries run again.",
    "section": "Local",
    "tags": ["weather", "transport", "weather"],
    "authors": "Ada Byrne, Tom Quill",
    "published_at": "2026-11-28T09:30:00+01:00",
    "url": "https://news.example.org/a-1",
}


def test_valid_row_is_normalised() -> None:
    data = validate_article(VALID)
    assert data.tags == ("weather", "transport")
    assert data.authors == ("Ada Byrne", "Tom Quill")
    assert data.published_at is not None
    assert data.published_at.utcoffset() is not None
    assert data.status == "published"


def test_plain_date_and_naive_datetime_become_utc() -> None:
    data = validate_article(
        {**VALID, "published_at": "2022-09-23", "updated_at": "2022-09-24 10:00"}
    )
    assert data.published_at is not None
    assert data.published_at.isoformat() == "2022-09-23T00:00:00+00:00"
    assert data.updated_at is not None
    assert str(data.updated_at.tzinfo) == "UTC"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"title": ""}, "title", "is required"),
        ({"title": None}, "title", "is required"),
        ({"external_id": "  "}, "external_id", "is required"),
        ({"published_at": "yesterday"}, "published_at", "not a valid ISO 8601"),
        ({"published_at": "2026-13-45"}, "published_at", "not a valid ISO 8601"),
        ({"status": "live"}, "status", "must be one of"),
        ({"body": "x" * 200_001}, "body", "too long"),
        ({"title": "bad\x00title"}, "title", "NUL byte"),
        ({"lead": "lone \ud800 surrogate"}, "lead", "surrogate"),
        ({"url": "javascript:alert(1)"}, "url", "valid http(s) URL"),
        ({"url": "not a url"}, "url", "valid http(s) URL"),
        ({"tags": [1, 2]}, "tags", "list of strings"),
        ({"tags": ["ok", "lone \ud800"]}, "tags", "surrogate"),
        ({"authors": ["Ada \udfff Byrne"]}, "authors", "surrogate"),
        ({"authors": "Ada, \ud800"}, "authors", "surrogate"),
        ({"tags": {"a": 1}}, "tags", "list of strings"),
        ({"title": 42}, "title", "must be a string"),
    ],
)
def test_invalid_rows_are_rejected_with_reasons(
    change: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(ArticleRejected) as exc_info:
        validate_article({**VALID, **change})
    assert reason in exc_info.value.reasons[field]


def test_numeric_external_id_is_accepted_as_text() -> None:
    assert validate_article({**VALID, "external_id": 17}).external_id == "17"


def test_batch_keeps_valid_rows_and_reports_the_others() -> None:
    rows = [VALID, {"title": "no id"}, "not an object", {**VALID, "external_id": "a-2"}]
    valid, rejected = validate_rows(rows)  # type: ignore[arg-type]
    assert [d.external_id for d in valid] == ["a-1", "a-2"]
    assert [(r.index, list(r.reasons)) for r in rejected] == [(1, ["external_id"]), (2, ["row"])]


def test_rejected_external_ids_are_echoed_as_valid_utf8() -> None:
    rows = [{**VALID, "external_id": "a-\ud800"}, {**VALID, "external_id": "a-2"}]
    valid, rejected = validate_rows(rows)
    assert [d.external_id for d in valid] == ["a-2"]
    assert rejected[0].external_id == "a-\\ud800"
    assert "surrogate" in rejected[0].reasons["external_id"]


def test_content_hash_changes_with_any_field_and_embedding_text_only_with_its_fields() -> None:
    base = validate_article(VALID)
    body_changed = validate_article({**VALID, "body": "New paragraph."})
    title_changed = validate_article({**VALID, "title": "Harbour reopens"})
    assert base.content_hash != body_changed.content_hash
    assert base.embedding_text == body_changed.embedding_text
    assert base.embedding_text != title_changed.embedding_text


def test_embedding_text_is_title_lead_section() -> None:
    assert compose_embedding_text(title=" T ", lead="L", section="Sport") == "T\nL\nSection: Sport"
    assert compose_embedding_text(title="T", lead="", section="") == "T"
