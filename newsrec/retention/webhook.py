"""Host-delivered off-site nudges: the readers whose risk rose, posted to the host's webhook.

Off unless ``NEWSREC["AT_RISK_WEBHOOK"]["URL"]`` is set. After each hourly scoring run in which
some reader's band rose, the task ``at_risk_webhook_deliver`` posts them, ``BATCH`` readers per
request, as JSON::

    {"event": "readers.at_risk", "delivery": "<run time>:<batch>", "rose_at": "...",
     "readers": [{"reader_id": "<public id>", "host_reader_id": "subscriber-4411",
                  "user_id": null, "band": "high", "previous_band": "rising",
                  "picks": [{"article_id": 1042, "external_id": "cms-1042", "title": "...",
                             "url": "...", "reason": "...", "recommendation_id": "..."}]}]}

Only readers the host can already name (a logged-in user's id, or the reader id the host sends
events under; the public id the at-risk API shows) and never opted-out readers, exactly those
of ``GET /api/v1/readers/at-risk/``. No probability, no behaviour in words: the host asks the
API (with its key) for those. Each request carries ``X-Newsrec-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>." + body with SECRET>`` and ``X-Newsrec-Delivery`` (the same on a retry:
deduplicate on it). newsrec itself sends nothing to readers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder

from newsrec.conf import newsrec_settings
from newsrec.retention import selectors
from newsrec.retention.models import ReaderRisk, RiskBand

logger = logging.getLogger(__name__)

BATCH = 100  # readers per request
SIGNATURE_HEADER = "X-Newsrec-Signature"
DELIVERY_HEADER = "X-Newsrec-Delivery"
DONE_SECONDS = 2 * 86_400  # delivered batches are remembered this long (retries skip them)


class WebhookError(Exception):
    """The host's endpoint did not take the delivery (network error or non-2xx answer)."""


def webhook_settings() -> dict[str, Any]:
    return dict(newsrec_settings.AT_RISK_WEBHOOK or {})


def signature(*, body: bytes, secret: str, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_valid(*, body: bytes, secret: str, header: str, tolerance: int = 300) -> bool:
    """What a host checks (a reference implementation; the tests use it)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(body=body, secret=secret, timestamp=stamp)
    return hmac.compare_digest(expected, header) and abs(time.time() - stamp) <= tolerance


def _reader_row(risk: ReaderRisk, *, picks: int) -> dict[str, Any]:
    reader = risk.reader
    client = reader.client_id or ""
    return {
        "reader_id": str(reader.public_id),
        "host_reader_id": client.removeprefix("api:") if client.startswith("api:") else None,
        "user_id": None if reader.user_id is None else str(reader.user_id),
        "band": risk.band,
        "previous_band": risk.previous_band,
        "picks": [
            {
                "article_id": p.article.pk, "external_id": p.article.external_id,
                "title": p.article.title, "url": p.article.url, "reason": p.reason,
                "recommendation_id": p.recommendation_id,
            }
            for p in selectors.reader_picks(reader=reader, limit=picks)
        ],
    }  # fmt: skip


def at_risk_batches(*, rose_at: datetime) -> list[list[ReaderRisk]]:
    """The readers whose band rose in the run of ``rose_at`` (and still did), in batches."""
    risks = list(
        selectors.readers_at_risk(since=rose_at, bands=[RiskBand.RISING, RiskBand.HIGH])
        .filter(rose_at=rose_at)
        .order_by("reader_id")
    )
    return [risks[i : i + BATCH] for i in range(0, len(risks), BATCH)]


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"{url} unreachable: {exc}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"{url} answered {status}")


def at_risk_webhook_send(*, rose_at: datetime) -> int:
    """Post every batch of the run not delivered yet; returns the readers sent now. Raises
    WebhookError on the first batch the host did not take (the task retries it)."""
    config = webhook_settings()
    url = str(config.get("URL") or "")
    if not url:
        return 0
    if not url.startswith(("https://", "http://")):
        raise ValueError(f'AT_RISK_WEBHOOK["URL"] must be an http(s) URL, not {url!r}')
    secret = str(config.get("SECRET") or "")
    picks = int(config.get("PICKS", 3))
    timeout = float(config.get("TIMEOUT_SECONDS", 5.0))
    sent = 0
    stamp = rose_at.isoformat()
    for number, batch in enumerate(at_risk_batches(rose_at=rose_at)):
        delivery = f"{stamp}:{number}"
        done_key = f"newsrec:at-risk-webhook:{delivery}"
        if cache.get(done_key):
            continue  # delivered before a retry of a later batch
        payload = {
            "event": "readers.at_risk",
            "delivery": delivery,
            "rose_at": stamp,
            "readers": [_reader_row(risk, picks=picks) for risk in batch],
        }
        body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "newsrec-webhook",
            DELIVERY_HEADER: delivery,
            SIGNATURE_HEADER: signature(body=body, secret=secret, timestamp=int(time.time())),
        }
        _post(url, body, headers, timeout)
        cache.set(done_key, 1, timeout=DONE_SECONDS)
        sent += len(batch)
    return sent
