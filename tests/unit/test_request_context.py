"""The reader's local hour from the beacon's time-zone cookie (#12.10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from newsrec.events import TZ_COOKIE, local_hour_of

NOON_UTC = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cookie", "hour"),
    [("60", 13), ("-300", 7), ("330", 17), ("0", 12), ("", None), ("abc", None), ("²", None),
     ("900", None), ("-99999", None)],
)  # fmt: skip
def test_local_hour_from_the_time_zone_cookie(cookie: str, hour: int | None) -> None:
    request = RequestFactory().get("/")
    if cookie:
        request.COOKIES[TZ_COOKIE] = cookie
    assert local_hour_of(request, now=NOON_UTC) == hour
