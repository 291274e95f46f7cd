"""No reader reaches another's feed or data, on every API endpoint found in the URL conf.

The endpoint list is generated from ``get_resolver()``, so a new endpoint is tested the moment it
is routed, and fails until it is classified in ``ACCESS`` below.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.signing import get_cookie_signer
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editorial.models import Rule, RuleSet
from newsrec import feeds, readers
from newsrec.models import Article, Event, EventKind, Feed, Reader
from tests.factories import make_article

PUBLIC = "public"  # the catalogue and the docs: anyone reads, writes need a scope
LOGIN = "login"  # the token endpoint: anyone may try credentials
OWN = "own"  # the caller's own feed and data
STAFF = "staff"  # staff, or an API key with a scope: never a plain reader

ACCESS: dict[str, str] = {
    "articles": PUBLIC,
    "article-detail": PUBLIC,
    "article-related": PUBLIC,
    "auth-token": LOGIN,
    "events": OWN,
    "me": OWN,
    "me-export": OWN,
    "me-personalisation": OWN,
    "feed-me": OWN,
    "feed-me-rails": OWN,
    "nudge-me": OWN,
    "nudge-me-dismiss": OWN,
    "experiments": STAFF,
    "experiment-detail": STAFF,
    "feed-progress": STAFF,
    "feed-reader": STAFF,
    "readers-at-risk": STAFF,
    "reader-export": STAFF,
    "reader-detail": STAFF,
    "rules": STAFF,
    "rule-detail": STAFF,
    "rule-sets": STAFF,
    "rule-set-detail": STAFF,
    "schema": PUBLIC,
    "api-docs": PUBLIC,
}


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, URLPattern, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            yield prefix + str(pattern.pattern), pattern, namespace


def api_routes() -> list[tuple[str, URLPattern, str]]:
    """Every routed URL under /api/, with its pattern and namespace."""
    return [r for r in _walk(get_resolver().url_patterns) if r[0].startswith("api/")]


def _methods(pattern: URLPattern) -> list[str]:
    callback: Any = pattern.callback
    view_class = getattr(callback, "cls", None) or callback.view_class
    return sorted(
        m.upper() for m in view_class().allowed_methods if m.upper() not in {"OPTIONS", "HEAD"}
    )


CASES = [
    pytest.param(route, pattern, namespace, method, identity, id=f"{method} /{route} as {identity}")
    for route, pattern, namespace in api_routes()
    for method in _methods(pattern)
    for identity in ("cookie", "token")
]


def test_every_api_endpoint_is_classified() -> None:
    routes = {str(pattern.name): route for route, pattern, _ns in api_routes() if pattern.name}
    assert len(routes) == len(api_routes()), "Name every API URL pattern so it can be classified."
    unclassified = sorted(set(routes) - set(ACCESS))
    assert not unclassified, f"Classify these endpoints in ACCESS: {unclassified}"
    assert not set(ACCESS) - set(routes), "ACCESS lists endpoints that no longer exist."


@dataclass
class World:
    """Reader A (the caller) and reader B (the victim), each with events and a feed."""

    a: Reader
    b: Reader
    b_user: User
    article: Article
    rule_set: RuleSet
    rule: Rule


def _give(reader: Reader, mark: str, article: Article, seed: Article) -> None:
    Event.objects.create(
        reader=reader, event_id=f"{mark}-event", kind=EventKind.FINISH, article=seed,
        occurred_at=timezone.now() - timedelta(minutes=1), dwell_seconds=90, read_depth=1.0,
    )  # fmt: skip
    item = {
        "article_id": article.pk, "title": f"{mark}-feed-item", "section": "News",
        "published_at": 0.0, "score": 1.0, "source": "because_you_read",
        "reason": f"Because you read {seed.title}", "seed_id": seed.pk, "breakdown": {},
    }  # fmt: skip
    Feed.objects.create(
        key=feeds.feed_key(reader.pk), reader=reader, items=[item], built_at=timezone.now()
    )


@pytest.fixture
def world() -> World:
    article = make_article(title="A public story")
    b_user = User.objects.create_user("victim", password="victim-password-1")
    b = readers.reader_for_user(user=b_user)
    rule_set = RuleSet.objects.create(name="Draft")
    return World(
        a=Reader.objects.create(client_id="placeholder"),
        b=b,
        b_user=b_user,
        article=article,
        rule_set=rule_set,
        rule=Rule.objects.create(rule_set=rule_set, kind="mmr", mmr_lambda=0.5),
    )


def _caller(world: World, identity: str) -> APIClient:
    """Reader A as a browser with the anonymous cookie, or as an app with a reader token."""
    client = APIClient()
    seed_a = make_article(title="Seed story of A")
    if identity == "cookie":
        found, token = readers.reader_for_cookie(token=None, create=True)
        assert found is not None
        assert token is not None
        reader = found
        salt = readers.COOKIE_NAME + readers.COOKIE_SALT
        client.cookies[readers.COOKIE_NAME] = get_cookie_signer(salt=salt).sign(token)
    else:
        user = User.objects.create_user("caller", password="caller-password-1")
        reader = readers.reader_for_user(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    world.a.delete()
    world.a = reader
    _give(reader, "mark-A", world.article, seed_a)
    _give(world.b, "mark-B", world.article, make_article(title="Seed story of B"))
    return client


URL_VALUES: dict[str, Callable[[World, str], Any]] = {
    "pk": lambda w, name: {"rule-detail": w.rule.pk, "rule-set-detail": w.rule_set.pk}.get(
        name, w.article.pk
    ),
    "public_id": lambda w, name: w.b.public_id,  # always aim at the other reader
    "reference": lambda w, name: str(w.b.public_id),  # a reader by public id: the other one
}


def _body(world: World, name: str) -> Any:
    """The most tempting body per endpoint: each tries to act on or as reader B."""
    event = {
        "event_id": "attack", "kind": "hide", "article_id": world.article.pk,
        "occurred_at": timezone.now().isoformat(), "reader_id": str(world.b.public_id),
    }  # fmt: skip
    return {
        "events": {"events": [event]},
        "me-personalisation": {"enabled": False},
        "auth-token": {"username": world.b_user.username, "password": "guess"},
        "articles": [{"external_id": "x", "title": "Injected"}],
        "rules": {"rule_set": world.rule_set.pk, "kind": "mmr", "mmr_lambda": 0.1},
        "rule-detail": {"kind": "mmr", "mmr_lambda": 0.1},
        # a nudge (and its dismissal) for reader B
        "nudge-me": {"kind": "pick-up", "reader_id": str(world.b.public_id)},
        "nudge-me-dismiss": {"kind": "pick-up", "reader_id": str(world.b.public_id)},
    }.get(name, {})


def _b_untouched(world: World) -> None:
    b = Reader.objects.get(pk=world.b.pk)
    assert b.personalisation_enabled
    assert list(Event.objects.filter(reader=b).values_list("event_id", flat=True)) == [
        "mark-B-event"
    ]
    assert Feed.objects.filter(reader=b).exists()
    assert Token.objects.filter(user=world.b_user).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern", "namespace", "method", "identity"), CASES)
def test_no_reader_reaches_another_readers_feed_or_data(
    world: World, route: str, pattern: URLPattern, namespace: str, method: str, identity: str
) -> None:
    name = str(pattern.name)
    assert name in ACCESS, f"Classify /{route} ({name}) in ACCESS"
    client = _caller(world, identity)
    kwargs = {}
    for key in pattern.pattern.converters:  # type: ignore[attr-defined]
        assert key in URL_VALUES, f"Say how to fill <{key}> of /{route} in URL_VALUES"
        kwargs[key] = URL_VALUES[key](world, name)
    url = reverse(":".join(filter(None, [namespace, name])), kwargs=kwargs)
    body = json.dumps(_body(world, name))
    response = client.generic(method, url, body, content_type="application/json")
    content = response.content.decode("utf-8", "replace")
    assert response.status_code < 500, content
    secrets = ["mark-B", str(world.b.public_id), world.b_user.username]
    if (
        ACCESS[name] != PUBLIC
    ):  # the catalogue lists every article; elsewhere B's reading is private
        secrets.append("Seed story of B")
    for secret in secrets:
        assert secret not in content, f"{method} {url} leaked {secret!r}"
    _b_untouched(world)

    kind = ACCESS[name]
    safe = method == "GET"
    if kind == STAFF or (kind == PUBLIC and not safe):
        assert response.status_code in (401, 403), (method, url, response.status_code)
    elif kind == PUBLIC:
        assert response.status_code == 200
    elif kind == OWN and safe:
        assert response.status_code == 200, content
        assert "mark-A" in content, "a reader's own endpoint should show their own data"
    elif name == "events":
        assert response.json()["results"][0]["status"] == "rejected"  # claimed reader B
