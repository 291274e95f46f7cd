"""newsrec asks for rules and experiment arms through providers, never importing editorial
(#13.1): a site can name its own, and without one newsrec runs with no rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from newsrec import feeds, providers
from newsrec.engine.rules import Filters, Rules
from newsrec.providers import NoExperiments, NoRules, ReadRules
from tests.factories import make_catalogue

pytestmark = pytest.mark.django_db


class NoSport:
    """A host's own rules: Sport is blocked everywhere."""

    rules = Rules(version=7, filters=Filters(blocked_sections=frozenset({"Sport"})))

    def live_rules(self) -> Rules:
        return self.rules

    def read_rules(self, **scope: Any) -> ReadRules:
        return ReadRules(rules=self.rules)

    def version(self) -> int:
        return 7


def test_editorial_registers_itself_as_the_provider() -> None:
    from editorial.providers import EditorialExperiments, EditorialRules

    assert isinstance(providers.rules_provider(), EditorialRules)
    assert isinstance(providers.experiments_provider(), EditorialExperiments)


def test_a_provider_named_in_the_settings_shapes_feeds_and_reads() -> None:
    catalogue = make_catalogue(["Sport", "Culture"], 12)
    path = f"{__name__}.NoSport"
    with override_settings(NEWSREC={"RULES_PROVIDER": path}):
        assert isinstance(providers.rules_provider(), NoSport)
        feeds.feeds_rebuild(reader_ids=[], include_default=True)
        view = feeds.feed_read(reader=None, limit=20)
        assert view.items
        assert {i["section"] for i in view.items} == {"Culture"}
    assert {a.section for a in catalogue} == {"Sport", "Culture"}


def test_without_any_provider_newsrec_runs_with_no_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "_registered", {})
    monkeypatch.setattr(providers, "_loaded", {})
    assert isinstance(providers.rules_provider(), NoRules)
    assert isinstance(providers.experiments_provider(), NoExperiments)
    assert providers.rules_provider().live_rules() == Rules()
    make_catalogue(["Sport", "Culture"], 6)
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    assert len(feeds.feed_read(reader=None, limit=6).items) == 6
