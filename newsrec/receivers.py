"""Signal receivers: fold an anonymous visitor's history into their account when they log in;
forget memoised API keys when one changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from newsrec import readers
from newsrec.models import ApiKey


@receiver(user_logged_in, dispatch_uid="newsrec.reader_login_merge")
def reader_login_merge(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Merge the reader of the `newsrec_rid` cookie (if any) into the user's reader."""
    if request is None:
        return
    readers.reader_adopt_on_login(request=request, user=user)


@receiver(post_save, sender=ApiKey, dispatch_uid="newsrec.api_key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="newsrec.api_key_deleted")
def api_keys_forget(sender: Any, **kwargs: Any) -> None:
    """A key revoked, deleted or given other scopes is refused or re-read at once here."""
    from newsrec.api.authentication import live_keys_forget

    live_keys_forget()
