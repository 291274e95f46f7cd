"""Request and response examples shown in the OpenAPI schema and the browsable docs.

Examples of list endpoints give one item: drf-spectacular wraps it in the list or page.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

_ARTICLE = {
    "id": 42,
    "external_id": "cms-1042",
    "url": "https://news.example.org/local/tram",
    "title": "Council approves the new tram line",
    "lead": "The vote ends a decade of debate.",
    "section": "Local",
    "tags": ["transport"],
    "authors": ["Ada Byrne"],
    "language": "en",
    "published_at": "2026-11-28T09:30:00Z",
    "updated_at": "2026-11-28T10:02:00Z",
    "status": "published",
    "embargo_until": None,
    "embedding_status": "ready",
}


def _response(name: str, value: object, *, status_codes: list[str] | None = None) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=status_codes)


def _request(name: str, value: object) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


ARTICLE = _response("An article", _ARTICLE)
ARTICLE_PAGE = _response("A page of articles", _ARTICLE)
RELATED = _response("A related article", {**_ARTICLE, "id": 57, "similarity": 0.8213})
UPSERT_REPORT = _response(
    "One stored and one rejected",
    {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": [{"index": 1, "external_id": "cms-1043", "reasons": {"title": "is required"}}],
        "dry_run": False,
    },
)

_ITEM = {
    "article_id": 57,
    "title": "Tram works close the harbour road",
    "section": "Local",
    "url": "/articles/57/",
    "source": "because_you_read",
    "reason": "Because you read Council approves the new tram line",
    "seed_id": 42,
    "score": 0.734512,
    "slot": 1,
}
_FEED_HEADER = {
    "personalised": True,
    "recommendation_id": "reader:812:3:e2v5",
    "rules_version": 12,
    "built_at": "2026-11-28T09:45:00Z",
    "version": 3,
}
FEED = _response("A personalised feed", {**_FEED_HEADER, "items": [_ITEM]})
RAILS = _response(
    "One rail",
    {
        **_FEED_HEADER,
        "rails": [
            {
                "seed_id": 42,
                "seed_title": "Council approves the new tram line",
                "title": "Because you read Council approves the new tram line",
                "items": [_ITEM],
            }
        ],
    },
)
FANOUT = _response(
    "Half done",
    {
        "run_id": "3f9c0a1b2c4d",
        "total": 12000,
        "done": 6000,
        "started": 1795858800.0,
        "elapsed_seconds": 41.5,
        "eta_seconds": 41.5,
    },
)

EVENTS_REPORT = _response(
    "Answered per event",
    {
        "accepted": 1,
        "duplicate": 1,
        "rejected": 0,
        "results": [
            {"index": 0, "event_id": "2f6c1e0a-1", "status": "duplicate"},
            {"index": 1, "event_id": "2f6c1e0a-2", "status": "accepted"},
        ],
    },
    status_codes=["200"],
)
EXPORT = _response(
    "A reader's data",
    {
        "reader": {
            "id": "6f1d3c52-8c1e-4f7a-9a55-0d3b7c2e9f10",
            "logged_in": False,
            "personalisation_enabled": True,
            "created": "2026-11-20T08:00:00Z",
            "last_seen": "2026-11-28T09:31:10Z",
        },
        "events": [
            {
                "event_id": "2f6c1e0a-2",
                "kind": "read",
                "article_id": 42,
                "article_title": "Council approves the new tram line",
                "occurred_at": "2026-11-28T08:31:10Z",
                "dwell_seconds": 64.5,
                "read_depth": 0.8,
            }
        ],
        "profile": None,
        "interests": {
            "sections": ["Local"],
            "tags": ["transport"],
            "authors": [],
            "nearest_articles": ["Council approves the new tram line"],
            "style": "",
        },
        "churn_risk": {
            "band": "low",
            "probability": 0.12,
            "previous_band": "",
            "band_since": "2026-11-20T09:00:00Z",
            "rose_at": None,
            "reasons": [],
            "computed_at": "2026-11-28T09:00:00Z",
        },
    },
)
PERSONALISATION_OFF = OpenApiExample("Turn it off", value={"enabled": False})

TOKEN_REQUEST = _request("Log in", {"username": "ada", "password": "correct horse battery"})
TOKEN = _response(
    "A token",
    {
        "token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
        "reader_id": "6f1d3c52-8c1e-4f7a-9a55-0d3b7c2e9f10",
    },
)

_RULE = {
    "id": 7,
    "rule_set": 2,
    "kind": "boost",
    "enabled": True,
    "target_field": "section",
    "target_value": "Politics",
    "factor": 2.0,
    "slot": None,
    "hours": None,
    "max_per_value": None,
    "top_k": None,
    "mmr_lambda": None,
    "devices": [],
    "visitors": "all",
    "priority": 0,
    "valid_from": "2026-11-28T18:00:00Z",
    "valid_until": "2026-11-29T06:00:00Z",
    "note": "Election night",
    "created": "2026-11-27T12:00:00Z",
    "modified": "2026-11-27T12:00:00Z",
}
_RULE_SET = {
    "id": 2,
    "name": "Election night",
    "description": "Politics first while results come in.",
    "status": "scheduled",
    "is_live": False,
    "scope": "section",
    "scope_value": "Politics",
    "starts_at": "2026-11-28T20:00:00Z",
    "ends_at": "2026-11-29T06:00:00Z",
    "created": "2026-11-27T11:58:00Z",
    "modified": "2026-11-27T12:00:00Z",
    "rules": [_RULE],
}
RULE = _response("A boost rule", _RULE)
RULES = _response("A boost rule", _RULE)
RULE_SET = _response("A rule set", _RULE_SET)
RULE_SETS = _response("A rule set", _RULE_SET)
RULE_REQUEST = _request(
    "Boost a section overnight",
    {
        "rule_set": 2,
        "kind": "boost",
        "target_field": "section",
        "target_value": "Politics",
        "factor": 2.0,
        "valid_from": "2026-11-28T18:00:00Z",
        "valid_until": "2026-11-29T06:00:00Z",
        "note": "Election night",
    },
)
RULE_PATCH = _request("Turn a rule off", {"enabled": False})
