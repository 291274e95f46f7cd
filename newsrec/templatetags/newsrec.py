"""Template tags for host sites and the reader site: feeds, related articles, safe bodies.

    {% load newsrec %}
    {% newsrec_feed request limit=10 %}    {# or a Reader; None: the non-personalised feed #}
    {% newsrec_related article limit=6 %}  {# a newsrec Article, its id, or a mirrored object #}
    {{ article.body|newsrec_body }}        {# sanitised HTML, or plain text as paragraphs #}

Override ``newsrec/tags/feed.html`` and ``newsrec/tags/related.html`` to change the markup.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import nh3
from django import template
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from newsrec import readers, selectors
from newsrec.events import device_from_user_agent
from newsrec.models import Article, Reader

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


@register.filter(name="newsrec_ago")
def newsrec_ago(moment: datetime | None) -> str:
    """ "5 minutes ago", "3 hours ago", "2 days ago"; older than a week, the date."""
    if moment is None:
        return ""
    delta = timezone.now() - moment
    if delta < timedelta(minutes=1):
        return "just now"
    if delta > timedelta(days=7):
        return date_format(moment, "j F Y")
    return f"{timesince(moment, depth=1)} ago"


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
    feed = selectors.reader_feed_cards(reader=who, device=device, limit=max(int(limit), 1))
    cards = feed.cards
    if not feed.stored:  # no feed built yet
        cards = [selectors.FeedCard(article=a) for a in selectors.article_list()[: int(limit)]]
    return {
        "cards": cards,
        "personalised": feed.personalised,
        "title": title or ("For you" if feed.personalised else "Top stories"),
    }


def _article_of(value: Any) -> Article | None:
    """A newsrec Article (with its vector) from an Article, an id or a mirrored CMS object."""
    if value is None or value == "":
        return None
    if isinstance(value, Article):
        return selectors.article_with_embedding(pk=value.pk)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return selectors.article_with_embedding(pk=int(value))
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
