"""LightGBM lambdarank over the engine's signals: it learns, cross-fits and round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from newsrec.learning.model import LightGBMRanker, TrainingSet, better, cross_fit, fit


def synthetic(n_groups: int, seed: int) -> TrainingSet:
    """Clicks follow "ctr" (plus noise); "age_days" is noise."""
    rng = np.random.default_rng(seed)
    data = TrainingSet()
    for g in range(n_groups):
        ctr = rng.random(6).astype(np.float32)
        noise = rng.random(6).astype(np.float32)
        labels = np.zeros(6, np.float32)
        labels[int(np.argmax(ctr + 0.3 * rng.random(6)))] = 1.0
        data.add(f"reader-{g % 97}", {"ctr": ctr, "age_days": noise}, labels)
    return data


def test_the_model_learns_the_signal_that_predicts_clicks() -> None:
    train, test = synthetic(400, 1), synthetic(200, 2)
    model, _ = fit(train, feature_names=("ctr", "age_days"), rounds=60)
    figures = test.evaluate(model.score)
    assert figures["auc"] > 0.85
    assert next(iter(model.importances())) == "ctr"


def test_out_of_fold_scores_cover_every_impression_and_generalise() -> None:
    data = synthetic(300, 3)
    scores, figures = cross_fit(data, feature_names=("ctr", "age_days"), rounds=40)
    assert len(scores) == len(data)
    assert all(len(s) == 6 for s in scores)
    assert figures["auc"] > 0.8


def test_text_round_trip_scores_the_same() -> None:
    data = synthetic(100, 4)
    model, _ = fit(data, feature_names=("ctr", "age_days"), rounds=20)
    again = LightGBMRanker.from_text(model.to_text(), model.feature_names)
    columns = data.columns(0)
    np.testing.assert_allclose(again.score(columns), model.score(columns))


def test_training_is_reproducible_whatever_the_machine_load() -> None:
    # LightGBM picks row- or column-wise histograms by timing its first pass unless one is
    # forced; a busy machine could flip the choice between two runs on the same rows
    data = synthetic(200, 6)
    first, _ = fit(data, feature_names=("ctr", "age_days"), rounds=20)
    second, _ = fit(data, feature_names=("ctr", "age_days"), rounds=20)
    assert "[force_row_wise: 1]" in first.to_text()
    assert "[deterministic: 1]" in first.to_text()
    assert first.to_text() == second.to_text()


def test_reader_split_keeps_each_reader_on_one_side() -> None:
    first, second = synthetic(300, 5).split_by_reader(0.2)
    assert not set(first.keys) & set(second.keys)
    assert 0 < len(second) < len(first)


@pytest.mark.parametrize(
    ("candidate", "incumbent", "promoted"),
    [
        ({"auc": 0.60, "ndcg10": 0.62}, {"auc": 0.55, "ndcg10": 0.60}, True),
        ({"auc": 0.60, "ndcg10": 0.59}, {"auc": 0.55, "ndcg10": 0.60}, False),
        ({"auc": 0.55, "ndcg10": 0.62}, {"auc": 0.55, "ndcg10": 0.60}, False),
        ({"auc": float("nan"), "ndcg10": 0.62}, {"auc": 0.5, "ndcg10": 0.6}, False),
    ],
)
def test_promotion_needs_higher_auc_and_no_worse_ndcg(
    candidate: dict[str, float], incumbent: dict[str, float], promoted: bool
) -> None:
    assert better(candidate, incumbent) is promoted
