"""newsrec_evaluate: a MIND-format log replayed in memory, never touching the live catalogue."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

TOPICS = ["politics", "sport", "culture"]


def write_mind(folder: Path) -> dict[str, Path]:
    """12 articles; readers always click N1 or N2 when shown, others rarely; with times."""
    news = "".join(
        f"N{i}\t{TOPICS[i % 3]}\tsub{i % 2}\tHeadline number {i} about {TOPICS[i % 3]}\t"
        f"Abstract {i}\thttps://example.org/{i}\t[]\t[]\n"
        for i in range(1, 13)
    )
    (folder / "news.tsv").write_text(news)

    def log(name: str, day: int, readers: range) -> Path:
        lines = []
        for u in readers:
            shown = [f"N{(u + k) % 10 + 3}" for k in range(4)]
            hit = "N1" if u % 2 else "N2"
            cells = " ".join([f"{hit}-1", *(f"{n}-0" for n in shown)])
            lines.append(f"{u}\tU{u}\t11/{day}/2019 9:00:00 AM\tN{u % 12 + 1}\t{cells}\n")
        path = folder / f"{name}.tsv"
        path.write_text("".join(lines))
        return path

    return {
        "train": log("train", 14, range(40)),
        "val": log("val", 15, range(40, 70)),
        "news": folder / "news.tsv",
    }


def test_the_product_ranking_is_scored_beside_the_baselines(tmp_path: Path) -> None:
    # no django_db mark: the command would fail here if it touched the database at all
    files = write_mind(tmp_path)
    out = StringIO()
    call_command(
        "newsrec_evaluate", "--behaviors", str(files["val"]), "--news", str(files["news"]),
        "--train", str(files["train"]), "--fit", str(files["val"]),
        "--json", str(tmp_path / "report.json"), stdout=out, stderr=StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    for method in ("random", "popularity", "ctr", "hand", "hand_new_reader", "learned"):
        assert f"\n{method} " in text
    report = json.loads((tmp_path / "report.json").read_text())
    ranking = report["ranking"]
    assert ranking["ctr"]["impressions"] == 30
    # the clicked articles were the most clicked in --train: popularity and CTR rank them first
    assert ranking["popularity"]["auc"] == 1.0
    assert ranking["ctr"]["auc"] == 1.0
    assert set(report["lists"]) == {"hand", "learned"}
    assert 0 < report["lists"]["hand"]["coverage"] <= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1\tU1\tN1\n", "3 tab-separated columns"),
        ("1\tU1\tN1\tN2-x\n", "is not newsid-0/1"),
        ("1\tU1\tyesterday\tN1\tN2-1\n", "unreadable time 'yesterday'"),
    ],
)
def test_a_bad_log_is_a_clear_error_with_its_line(
    tmp_path: Path, content: str, message: str
) -> None:
    files = write_mind(tmp_path)
    bad = tmp_path / "bad.tsv"
    bad.write_text(content)
    with pytest.raises(CommandError, match=message) as caught:
        call_command(
            "newsrec_evaluate", "--behaviors", str(bad), "--news", str(files["news"]),
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    assert "bad.tsv line 1" in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nope\.tsv: no such file"):
        call_command("newsrec_evaluate", "--behaviors", str(tmp_path / "nope.tsv"),
                     "--news", str(tmp_path / "news.tsv"))  # fmt: skip
