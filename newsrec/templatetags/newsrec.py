"""Template tags for host sites and the reader site: feeds, related articles, safe bodies.

    {% load newsrec %}
    {% newsrec_feed request limit=10 %}    {# or a Reader; None: the non-personalised feed #}
    {% newsrec_related article limit=6 %}  {# a newsrec Article, its id, or a mirrored object #}
    {% newsrec_nudge request article=article %}  {# "Before you go", shown on exit intent #}
    {% newsrec_pickup request surface="home" %}  {# "Pick up where you left off" #}
    {{ article.body|newsrec_body }}        {# sanitised HTML, or plain text as paragraphs #}

Override ``newsrec/tags/feed.html``, ``newsrec/tags/related.html``, ``newsrec/tags/nudge.html``
and ``newsrec/tags/pickup.html`` to change the markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from html import escape
from typing import Any

import nh3
from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import avoid_wrapping, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import get_language

from newsrec import readers, selectors
from newsrec.events import device_from_user_agent, local_hour_of
from newsrec.models import Article, Reader
from newsrec.numbers import ascii_int

register = template.Library()

# What article bodies from a CMS may keep: text structure, links, quotes, figures. Scripts,
# styles, event handlers, forms and frames never reach a page.
BODY_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small",
    "mark", "abbr", "cite", "q", "blockquote", "code", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "a", "figure", "figcaption", "img", "table", "thead", "tbody", "tr", "th", "td", "caption",
    "time", "span",
}  # fmt: skip
BODY_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
BODY_URL_SCHEMES = {"http", "https", "mailto"}
_LOOKS_LIKE_HTML = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")


def body_html(body: str | None) -> SafeString:
    """An article body as safe HTML: HTML is sanitised with nh3, plain text becomes paragraphs."""
    if not body:
        return mark_safe("")
    if _LOOKS_LIKE_HTML.search(body):
        cleaned = nh3.clean(
            body,
            tags=BODY_TAGS,
            clean_content_tags={"script", "style", "template", "noscript"},
            attributes=BODY_ATTRIBUTES,
            url_schemes=BODY_URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            set_tag_attribute_values={"img": {"loading": "lazy", "decoding": "async"}},
        )
        return mark_safe(cleaned)  # nh3's output is an allowlisted fragment
    paragraphs = [line.strip() for line in body.splitlines() if line.strip()]
    return format_html_join("\n", "<p>{}</p>", ((p,) for p in paragraphs))


@register.filter(name="newsrec_body")
def newsrec_body(body: str | None) -> SafeString:
    return body_html(body)


# Within a week only weeks, days, hours and minutes can show (timesince with depth=1).
_AGO_UNITS = ((7 * 86_400, "week"), (86_400, "day"), (3_600, "hour"), (60, "minute"))


@lru_cache(maxsize=1024)
def _ago_text(language: str | None, unit: str, count: int) -> str:
    # Keyed by the active language: the strings are translated.
    return f"{avoid_wrapping(TIME_STRINGS[unit] % {'num': count})} ago"


@lru_cache(maxsize=4096)
def _date_text(language: str | None, moment: datetime) -> str:
    return date_format(moment, "j F Y")


def _ago(moment: datetime, now: datetime, language: str | None) -> str:
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds > 7 * 86_400:
        return _date_text(language, moment)
    size, unit = next(u for u in _AGO_UNITS if seconds >= u[0])
    return _ago_text(language, unit, int(seconds // size))


@register.filter(name="newsrec_ago")
def newsrec_ago(moment: datetime | None) -> str:
    """ "5 minutes ago", "3 hours ago", "2 days ago"; older than a week, the date.

    The same words as ``timesince(moment, depth=1)``, memoised per unit and count: a front
    page shows about seventy of them.
    """
    if moment is None:
        return ""
    return _ago(moment, timezone.now(), get_language())


# --- Story cards ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _lead_html(lead: str) -> str:
    """The ``truncatewords:32`` of a lead, escaped; leads repeat on every page, so memoised."""
    return escape(Truncator(lead).words(32, truncate=" …"))


def _csrf_input(context: template.Context) -> str:
    """What ``{% csrf_token %}`` writes, computed once for a whole list of cards."""
    token = context.get("csrf_token")
    if not token or str(token) == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'


_PK_MARK = 987_654_321  # stands for the article id in the reversed URL
_CARD_PAGE = "newsrec.card_page"  # the CardPage of the page being rendered (render_context)


@dataclass(frozen=True)
class CardPage:
    """What every card of one page shares: URLs, the hide form's fields, the clock, the language."""

    url_head: str  # an article's URL is url_head + id + url_tail
    url_tail: str
    form_head: str
    form_fields: str
    now: datetime
    language: str | None
    tz: tzinfo | None  # None: USE_TZ is off, times show as stored

    @classmethod
    def build(cls, *, csrf_input: str, next_url: str, surface: str = "") -> CardPage:
        head, _mark, tail = reverse("newsrec:article", kwargs={"pk": _PK_MARK}).rpartition(
            str(_PK_MARK)
        )
        return cls(
            url_head=head,
            url_tail=tail,
            form_head=(
                f'<form class="hide" method="post" action="{escape(reverse("newsrec:hide"))}" '
                f'data-newsrec-hide data-newsrec-undo="{escape(reverse("newsrec:hide-undo"))}">'
                f"{csrf_input}\n"
            ),
            form_fields=(
                f'<input type="hidden" name="surface" value="{escape(surface)}">'
                f'<input type="hidden" name="next" value="{escape(next_url)}">\n'
            ),
            now=timezone.now(),
            language=get_language(),
            tz=timezone.get_current_timezone() if settings.USE_TZ else None,
        )


def cards_html(
    cards: Iterable[Any], *, page: CardPage, compact: bool = False, hide_reason: bool = False
) -> SafeString:
    """Story cards (``FeedCard``) as ``<li>`` items, each with its "Not interested" form.

    Built in Python rather than by including a card template: a front page has about seventy
    cards and the template engine took most of its time. Markup is what readers and the
    beacon script (data-newsrec-* attributes) rely on; change it with care.
    """
    css = "card card--compact" if compact else "card"
    out: list[str] = []
    for card in cards:
        article = card.article
        pk = int(article.pk)
        title = escape(article.title)
        out.append(f'<li class="{css}" data-newsrec-article="{pk}"')
        if card.slot:
            out.append(f' data-newsrec-slot="{int(card.slot)}"')
        if card.recommendation_id:
            out.append(f' data-newsrec-recommendation="{escape(card.recommendation_id)}"')
        out.append(
            f'>\n  <h3 class="card__title"><a href="{page.url_head}{pk}{page.url_tail}">{title}'
            "</a></h3>\n"
        )
        if not compact and article.lead:
            out.append(f'  <p class="card__lead">{_lead_html(article.lead)}</p>\n')
        out.append('  <p class="meta">')
        if article.section:
            out.append(f'<span class="section">{escape(article.section)}</span> · ')
        published = article.published_at
        if published is None:
            out.append('<time datetime=""></time></p>\n')
        else:
            # What |date:"c" writes: the time in the current time zone.
            shown = published.astimezone(page.tz) if page.tz and published.tzinfo else published
            stamp = shown.isoformat()
            ago = escape(_ago(published, page.now, page.language))
            out.append(f'<time datetime="{stamp}">{ago}</time></p>\n')
        if card.reason and not hide_reason:
            out.append(f'  <p class="reason">{escape(card.reason)}</p>\n')
        out.append(
            f"  {page.form_head}"
            f'    <input type="hidden" name="article" value="{pk}">{page.form_fields}'
            '    <button type="submit" class="hide__button">Not interested'
            f'<span class="visually-hidden"> in “{title}”</span></button>\n'
            "  </form>\n</li>\n"
        )
    return mark_safe("".join(out))  # every value above is escaped or an int


@register.simple_tag
def newsrec_section_url(name: str) -> str:
    """``{% newsrec_section_url name %}``: ``{% url 'newsrec:section' name %}``, remembered.

    Every page links each section in its navigation and the front page again in its section
    blocks: some twenty reversals a page, each costing more than the rest of its link.
    """
    from django.urls import get_script_prefix, get_urlconf

    return _section_url(str(name), settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())


@lru_cache(maxsize=1024)
def _section_url(name: str, root: str, urlconf: str | None, prefix: str) -> str:
    # the key names everything reverse() depends on: the URLconf in use and the script prefix
    return reverse("newsrec:section", args=[name], urlconf=urlconf)


@register.simple_tag(takes_context=True)
def newsrec_cards(
    context: template.Context,
    cards: Iterable[Any],
    compact: bool = False,
    hide_reason: bool = False,
) -> SafeString:
    """``{% newsrec_cards cards compact=True %}``: the reader site's story cards (see cards_html).

    The form's CSRF token, its ``next`` (this page) and the surface come from the context.
    """
    page = context.render_context.get(_CARD_PAGE)
    if page is None:  # once per page: a front page has a dozen lists of cards
        request = context.get("request")
        page = CardPage.build(
            csrf_input=_csrf_input(context),
            next_url=request.get_full_path() if request is not None else "",
            surface=str(context.get("surface") or ""),
        )
        context.render_context[_CARD_PAGE] = page
    return cards_html(cards, page=page, compact=compact, hide_reason=hide_reason)


HIDDEN_TAG = "newsrec-hidden"  # a hide's notice is tagged "<tag> <tag>-<article id>"


@register.simple_tag(takes_context=True)
def newsrec_undo(context: template.Context, message: Any) -> SafeString:
    """``{% newsrec_undo message %}``: the Undo button of a "Not interested" notice; nothing for
    other messages. It posts back to this page, as the hide form did."""
    prefix = f"{HIDDEN_TAG}-"
    tags = str(getattr(message, "extra_tags", "") or "").split()
    found = [ascii_int(t[len(prefix) :], low=1) for t in tags if t.startswith(prefix)]
    if not found or found[0] is None:
        return mark_safe("")
    request = context.get("request")
    return format_html(
        '<form class="undo" method="post" action="{}">{}<input type="hidden" name="article" '
        'value="{}"><input type="hidden" name="next" value="{}"><button type="submit" '
        'class="undo__button">Undo<span class="visually-hidden"> “Not interested”</span>'
        "</button></form>",
        reverse("newsrec:hide-undo"),
        mark_safe(_csrf_input(context)),  # escaped where it is built
        found[0],
        request.get_full_path() if request is not None else "",
    )


def _reader_of(value: Any) -> Reader | None:
    if value is None or isinstance(value, Reader):
        return value
    if isinstance(value, HttpRequest) or hasattr(value, "COOKIES"):
        reader, _token = readers.reader_for_request(value, create=False)
        return reader
    raise template.TemplateSyntaxError(
        f"newsrec_feed takes a Reader, a request or None, not {type(value).__name__}."
    )


@register.inclusion_tag("newsrec/tags/feed.html", takes_context=True)
def newsrec_feed(
    context: template.Context, reader: Any = None, limit: int = 10, title: str = ""
) -> dict[str, Any]:
    """The reader's feed (or the non-personalised one) as a small list of links with reasons."""
    who = _reader_of(reader)
    request = context.get("request")
    device = device_from_user_agent(request.META.get("HTTP_USER_AGENT", "")) if request else ""
    feed = selectors.reader_feed_cards(
        reader=who, device=device, limit=max(int(limit), 1), local_hour=local_hour_of(request)
    )
    return {
        "cards": feed.cards,
        "personalised": feed.personalised,
        "title": title or ("For you" if feed.personalised else "Top stories"),
    }


def _article_of(value: Any) -> Article | None:
    """A newsrec Article (with its vector) from an Article, an id or a mirrored CMS object."""
    if value is None or value == "":
        return None
    if isinstance(value, Article):
        return selectors.article_with_embedding(pk=value.pk)
    if isinstance(value, int | str) and not isinstance(value, bool):
        pk = ascii_int(value, low=1)
        if pk is not None:
            return selectors.article_with_embedding(pk=pk)
        if isinstance(value, int) or value.strip().isdigit():
            return None  # an id out of range, or in digits that are not ASCII
    from newsrec import registry

    adapter = registry.adapter_for(type(value))
    if adapter is None:
        raise template.TemplateSyntaxError(
            f"newsrec_related takes a newsrec Article, its id or an object of a model registered "
            f"with newsrec.registry, not {type(value).__name__}."
        )
    return (
        Article.objects.only("id", "embedding")
        .filter(external_id=adapter.external_id(value))
        .first()
    )


@register.inclusion_tag("newsrec/tags/related.html")
def newsrec_related(article: Any, limit: int = 6, title: str = "Related") -> dict[str, Any]:
    """Nearest live neighbours of an article; renders nothing useful until it is embedded."""
    found = _article_of(article)
    related = selectors.article_related(article=found, limit=int(limit)) if found else []
    return {"articles": related, "title": title}


def _request_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "device": device_from_user_agent(request.META.get("HTTP_USER_AGENT", "")),
        "local_hour": local_hour_of(request),
    }


@register.inclusion_tag("newsrec/tags/nudge.html", takes_context=True)
def newsrec_nudge(
    context: template.Context,
    reader: Any = None,
    article: Any = None,
    limit: int = 3,
    surface: str = "article",
) -> dict[str, Any]:
    """ "Before you go": the reader's best unread stories in a dialog that ``nudge.js`` opens on
    exit intent, under the editors' nudge policy (on/off per surface, risk bands, copy) and its
    daily cap (counted when it opens); nothing for opted-out or unknown readers.
    """
    from django.middleware.csrf import get_token

    from newsrec.providers import NUDGE_BEFORE_YOU_GO
    from newsrec.retention.nudges import nudge_policy_for
    from newsrec.retention.selectors import nudge_cards

    who = _reader_of(reader)
    request = context.get("request")
    if who is None or request is None:
        return {"cards": []}
    policy = nudge_policy_for(reader=who, kind=NUDGE_BEFORE_YOU_GO, surface=surface)
    if policy is None:
        return {"cards": []}
    found = article if isinstance(article, Article) else _article_of(article)
    cards = nudge_cards(
        reader=who, exclude=[found.pk] if found is not None else [], limit=max(int(limit), 1),
        **_request_context(request),
    )  # fmt: skip
    return {
        "cards": cards,
        "policy": policy,
        "surface": surface,
        "csrf_token": get_token(request) if cards else "",
    }


@register.inclusion_tag("newsrec/tags/pickup.html", takes_context=True)
def newsrec_pickup(
    context: template.Context, reader: Any = None, surface: str = "home", article: Any = None
) -> dict[str, Any]:
    """ "Pick up where you left off": the next part of a story a binge reader started, or one
    short standout for a sampler, with its reason; a small region the reader can dismiss.
    Counted against the daily cap when rendered with a story (see retention/nudges.py)."""
    from django.middleware.csrf import get_token

    from newsrec.providers import NUDGE_PICK_UP
    from newsrec.retention.nudges import nudge_offer

    who = _reader_of(reader)
    request = context.get("request")
    if who is None or request is None:
        return {"cards": []}
    found = article if isinstance(article, Article) else _article_of(article)
    offer = nudge_offer(
        reader=who, kind=NUDGE_PICK_UP, surface=surface, claim=True,
        exclude=[found.pk] if found is not None else [], **_request_context(request),
    )  # fmt: skip
    if offer is None:
        return {"cards": []}
    policy, cards = offer
    return {
        "cards": cards,
        "policy": policy,
        "kind": NUDGE_PICK_UP,
        "next": request.get_full_path(),
        "csrf_token": get_token(request),
    }
