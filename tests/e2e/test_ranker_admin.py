"""The learned ranker's model cards in a real browser: an editor reads them, a senior editor
rolls back to the hand-weighted formula and forward again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from newsrec.learning import serving, training
from newsrec.models import RankerModel, RankerModelStatus
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_editor_room import log_in, staff
from tests.integration.test_learned_ranker import SETTINGS, logged_site

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@override_settings(NEWSREC=SETTINGS)
def test_editors_read_the_model_card_and_seniors_roll_back(context: Any) -> None:
    logged_site(seed=9)
    version = training.train(user="nightly")
    assert version.status == RankerModelStatus.ACTIVE
    serving.serving_clear()

    page = log_in(context, staff("reader-of-cards", "Editor"))
    page.goto("/admin/newsrec/rankermodel/")
    assert "Promoted: AUC" in page.inner_text("#result_list")
    assert page.locator("select[name=action]").count() == 0  # an editor cannot switch rankers
    page.click(f"a[href$='/rankermodel/{version.pk}/change/']")
    card = page.inner_text("#content")
    assert "validation slice" in card
    assert f"{version.metrics['model']['auc']:.4f}" in card
    assert f"{version.metrics['hand']['auc']:.4f}" in card
    strongest = max(version.importances, key=version.importances.get)
    assert f"{strongest} — {version.importances[strongest]:.1%}" in card
    assert "training page views" in card
    page.screenshot(path=str(SCREENSHOTS / "ranker-model-card.png"), full_page=True)

    context.clear_cookies()  # the senior editor, in the same browser
    page = log_in(context, staff("boss", "Senior editor"))
    page.goto("/admin/newsrec/rankermodel/")
    page.check(f"input[name=_selected_action][value='{version.pk}']")
    page.select_option("select[name=action]", "use_hand_weights")
    page.click("button[name=index]")
    assert "Feeds use the hand-weighted formula" in page.inner_text(".messagelist")
    assert not RankerModel.objects.filter(status=RankerModelStatus.ACTIVE).exists()
    assert serving.serving_model() is None

    page.check(f"input[name=_selected_action][value='{version.pk}']")
    page.select_option("select[name=action]", "make_active")
    page.click("button[name=index]")
    assert "now ranks every feed" in page.inner_text(".messagelist")
    version.refresh_from_db()
    assert version.status == RankerModelStatus.ACTIVE
