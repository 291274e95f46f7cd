"""Reader pages: home, article, section and privacy pages, and the "Not interested" form."""

from __future__ import annotations

import json
import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from newsrec import feeds, readers, selectors
from newsrec.engine.sources import BecauseYouReadSource
from newsrec.events import device_from_user_agent, event_hide_undo, events_ingest, local_hour_of
from newsrec.models import Article, EventKind, Reader
from newsrec.selectors import FeedCard
from newsrec.templatetags.newsrec import HIDDEN_TAG

logger = logging.getLogger(__name__)

FOR_YOU_SIZE = 12
RAILS_MAX = 3  # "Because you read X" rails on the home page
RAIL_SIZE = 4
TRENDING_SIZE = 5
SECTION_BLOCK_SIZE = 3
SECTION_PAGE_SIZE = 24
SIDE_LIST_SIZE = 4  # "More from <section>" and "Continue reading"
BECAUSE_YOU_READ = BecauseYouReadSource.name


def _reader(request: HttpRequest) -> Reader | None:
    reader, _token = readers.reader_for_request(request, create=False)
    return reader


def _device(request: HttpRequest) -> str:
    return device_from_user_agent(request.META.get("HTTP_USER_AGENT", ""))


def _latest_cards(*, exclude: set[int], limit: int) -> list[FeedCard]:
    """The newest live articles the site-wide rules allow (when a feed has none left)."""
    allowed = selectors.article_list().allowed_by(selectors.site_filters())
    qs = allowed.only(*selectors.CARD_FIELDS).exclude(pk__in=exclude)[:limit]
    return [FeedCard(article=a) for a in qs]


def _rails(feed: selectors.ReaderFeed) -> list[dict[str, Any]]:
    """The "Because you read X" rails (``feeds.rails_group``, as the API groups them); each
    rail keeps the diversity caps."""
    return [
        {
            "seed": feed.seeds[seed_id],
            "title": feed.seeds[seed_id].title,
            "cards": selectors.cards_capped(members, feed.caps, limit=RAIL_SIZE),
        }
        for seed_id, members in feeds.rails_group(
            feed.cards,
            seed_of=lambda card: card.seed_id if card.source == BECAUSE_YOU_READ else None,
            live_seeds=feed.seeds,
            rails=RAILS_MAX,
        )
    ]


def home(request: HttpRequest) -> HttpResponse:
    section = request.GET.get("section")
    if section:  # the old ?section= links
        return redirect("newsrec:section", name=section, permanent=True)
    reader = _reader(request)
    hidden = selectors.reader_hidden_article_ids(reader=reader)
    feed = selectors.reader_feed_cards(
        reader=reader, device=_device(request), hidden=hidden, local_hour=local_hour_of(request)
    )
    rails = _rails(feed)
    in_rails = {c.article.pk for rail in rails for c in rail["cards"]}
    for_you = selectors.cards_capped(
        [c for c in feed.cards if c.article.pk not in in_rails], feed.caps, limit=FOR_YOU_SIZE
    )
    shown = in_rails | {c.article.pk for c in for_you}
    trending = [c for c in feed.cards if c.source == "trending" and c.article.pk not in shown][
        :TRENDING_SIZE
    ]
    shown |= {c.article.pk for c in trending}
    if len(trending) < TRENDING_SIZE:
        trending += [
            FeedCard(article=a, reason="Most read in the last two days")
            for a in selectors.articles_trending(
                limit=TRENDING_SIZE - len(trending), exclude=shown | hidden
            )
        ]
    blocks = {
        name: [FeedCard(article=a) for a in articles]
        for name, articles in selectors.section_latest(
            per_section=SECTION_BLOCK_SIZE, exclude=hidden
        ).items()
    }
    return render(
        request,
        "newsrec/home.html",
        {
            "for_you": for_you,
            "personalised": feed.personalised,
            "rails": rails,
            "trending": trending,
            "section_blocks": blocks,
            "sections": list(blocks),
            "surface": "home",
            "reader": reader,  # the nudges' reader: not looked up again
        },
    )


def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(selectors.article_list().defer(None).defer("embedding"), pk=pk)
    full = selectors.article_with_embedding(pk=article.pk)
    reader = _reader(request)
    hidden = selectors.reader_hidden_article_ids(reader=reader)
    related = [
        a
        for a in (selectors.article_related(article=full) if full is not None else [])
        if a.pk not in hidden
    ]
    shown = {article.pk, *hidden, *(a.pk for a in related)}
    more = list(
        selectors.article_list(section=article.section)
        .allowed_by(selectors.site_filters())
        .exclude(pk__in=shown)[:SIDE_LIST_SIZE]
        if article.section
        else []
    )
    shown |= {a.pk for a in more}
    feed = selectors.reader_feed_cards(
        reader=reader, device=_device(request), hidden=hidden, local_hour=local_hour_of(request)
    )
    next_up = selectors.cards_capped(
        [c for c in feed.cards if c.article.pk not in shown], feed.caps, limit=SIDE_LIST_SIZE
    )
    if not next_up:
        next_up = _latest_cards(exclude=shown, limit=SIDE_LIST_SIZE)
    return render(
        request,
        "newsrec/article_detail.html",
        {
            "article": article,
            "related": related,
            "more": more,
            "next_up": next_up,
            "sections": selectors.section_names(),
            "surface": "article",
        },
    )


def section_page(request: HttpRequest, name: str) -> HttpResponse:
    sections = selectors.section_names()
    if name not in sections:
        raise Http404("No such section.")
    reader = _reader(request)
    hidden = selectors.reader_hidden_article_ids(reader=reader)
    feed = selectors.reader_feed_cards(
        reader=reader, device=_device(request), section=name, hidden=hidden,
        local_hour=local_hour_of(request),
    )  # fmt: skip
    cards = feed.cards[:SECTION_PAGE_SIZE]  # capped already: every first K keeps the caps
    return render(
        request,
        "newsrec/section.html",
        {
            "section": name,
            "sections": sections,
            "cards": cards,
            "personalised": feed.personalised,
            "surface": "section",
        },
    )


# --- "Not interested" -------------------------------------------------------------------------


class HideForm(forms.Form):
    article = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    surface = forms.CharField(max_length=32, required=False)
    next = forms.CharField(max_length=2000, required=False)


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("newsrec:home")


def _title(article_id: int) -> str | None:
    return Article.objects.filter(pk=article_id).values_list("title", flat=True).first()


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.META.get("HTTP_ACCEPT", "")


@require_POST
def hide(request: HttpRequest) -> HttpResponse:
    """Record a `hide` event for the reader; without JavaScript, go back to the page.

    The hide takes effect at once because pages drop hidden articles at read time; the stored
    feed is rebuilt in the background (queued when the event has committed).
    """
    form = HideForm(request.POST)
    if not form.is_valid():
        return _form_error(request, "That request was incomplete; nothing was changed.")
    article_id = form.cleaned_data["article"]
    reader, token = readers.reader_for_request(request, create=True)
    assert reader is not None  # create=True always yields a reader
    event = {
        "event_id": f"hide-{article_id}",  # hiding twice is the same event, stored once
        "kind": EventKind.HIDE.value,
        "article_id": article_id,
        "occurred_at": timezone.now().isoformat(),
        "surface": form.cleaned_data["surface"] or "site",
    }
    report = events_ingest(reader=reader, raw_events=[event], default_device=_device(request))
    if report.count("rejected"):
        return _form_error(request, "That article does not exist.", status=404)
    readers.reader_touch(reader=reader)
    transaction.on_commit(lambda: _rebuild_soon(reader.pk))
    said = f"Removed “{_title(article_id)}”. You will see fewer stories like that one."
    if _wants_json(request):
        undo = reverse("newsrec:hide-undo")
        response: HttpResponse = JsonResponse({"hidden": article_id, "message": said, "undo": undo})
    else:
        # The notice offers Undo (the newsrec_undo tag reads the article from the tag).
        messages.info(request, said, extra_tags=f"{HIDDEN_TAG} {HIDDEN_TAG}-{article_id}")
        response = redirect(_safe_next(request, form.cleaned_data["next"]))
    if token:
        readers.cookie_set(response, token)
    return response


@require_POST
def hide_undo(request: HttpRequest) -> HttpResponse:
    """Take back a "Not interested": erase the reader's hide event, queue the feed rebuild."""
    form = HideForm(request.POST)
    if not form.is_valid():
        return _form_error(request, "That request was incomplete; nothing was changed.")
    article_id = form.cleaned_data["article"]
    reader = _reader(request)
    restored = reader is not None and event_hide_undo(reader=reader, article_id=article_id)
    if restored and reader is not None:
        reader_id = reader.pk
        transaction.on_commit(lambda: _rebuild_soon(reader_id))
        said = f"Undone: “{_title(article_id)}” can show up in your feeds again."
    else:
        said = "There was nothing to undo."
    if _wants_json(request):
        return JsonResponse({"restored": article_id if restored else None, "message": said})
    messages.info(request, said)
    return redirect(_safe_next(request, form.cleaned_data["next"]))


def _rebuild_soon(reader_id: int) -> None:
    from newsrec.outbox import send_or_record
    from newsrec.tasks import feeds_rebuild_readers

    # Broker down: kept in the outbox; the hide is stored and already applied at read time.
    send_or_record(feeds_rebuild_readers, [reader_id])


def _form_error(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "invalid", "message": message, "errors": {}}, status=status)
    return render(
        request,
        "newsrec/message.html",
        {"title": "Something was not right", "message": message, "sections": []},
        status=status,
    )


# --- Privacy ----------------------------------------------------------------------------------


class PersonalisationForm(forms.Form):
    enabled = forms.ChoiceField(choices=[("on", "On"), ("off", "Off")])


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, erase my reading history and profile. This cannot be undone.",
        error_messages={"required": "Tick the box to confirm that you want everything erased."},
    )


def _privacy_page(
    request: HttpRequest, *, erase_form: EraseForm | None = None, status: int = 200
) -> HttpResponse:
    reader = _reader(request)
    events = reader.events.count() if reader is not None else 0
    return render(
        request,
        "newsrec/privacy.html",
        {
            "reader": reader,
            "personalised": reader is None or reader.personalisation_enabled,
            "events_stored": events,
            "interests": readers.reader_interests(reader=reader) if reader else None,
            "erase_form": erase_form or EraseForm(),
            "sections": selectors.section_names(),
        },
        status=status,
    )


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return _privacy_page(request)


@require_POST
def privacy_personalisation(request: HttpRequest) -> HttpResponse:
    form = PersonalisationForm(request.POST)
    if not form.is_valid():
        return _form_error(request, "Choose whether personalisation is on or off.")
    reader, token = readers.reader_for_request(request, create=True)
    assert reader is not None
    enabled = form.cleaned_data["enabled"] == "on"
    readers.personalisation_set(reader=reader, enabled=enabled)
    messages.success(
        request,
        "Personalisation is on: your reading shapes your front page."
        if enabled
        else "Personalisation is off: you now see the same front page as everyone else.",
    )
    response = redirect("newsrec:privacy")
    if token:
        readers.cookie_set(response, token)
    return response


@require_GET
def privacy_export(request: HttpRequest) -> HttpResponse:
    """Everything stored about the reader, as a JSON download."""
    reader = _reader(request)
    data: dict[str, Any] = (
        readers.reader_export(reader=reader)
        if reader is not None
        else {"reader": None, "events": [], "profile": None, "interests": None}
    )
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="newsrec-my-data.json"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def privacy_erase(request: HttpRequest) -> HttpResponse:
    form = EraseForm(request.POST)
    if not form.is_valid():
        return _privacy_page(request, erase_form=form, status=400)
    reader = _reader(request)
    if reader is not None:
        readers.reader_erase(reader=reader)
    messages.success(request, "Everything newsrec stored about you has been erased.")
    response = redirect("newsrec:privacy")
    response.delete_cookie(readers.COOKIE_NAME, samesite="Lax")
    return response
