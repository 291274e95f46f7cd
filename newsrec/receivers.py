"""Signal receivers: fold an anonymous visitor's history into their account when they log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from newsrec import readers


@receiver(user_logged_in, dispatch_uid="newsrec.reader_login_merge")
def reader_login_merge(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Merge the reader of the `newsrec_rid` cookie (if any) into the user's reader."""
    if request is None:
        return
    readers.reader_adopt_on_login(request=request, user=user)
