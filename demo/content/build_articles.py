"""Build ``articles.jsonl`` for the demo site from the hand-written story seeds in ``seeds/``.

Run ``python -m demo.content.build_articles`` after editing a seed file and commit both. The
output is deterministic (a fixed random seed spreads the publication times), so an unchanged
seed set gives a byte-identical file.

Seed format, one file per section::

    == Section name | url-slug
    tags: the section's tag vocabulary, comma separated
    ## Tag, Tag | Lead author           <- a story cluster (one or more follow-ups)
    bg: context paragraph added to the end of every article in the cluster (optional)
    t: title                            <- starts an article
    l: lead
    b: body paragraph (repeatable)
    x: draft | retracted | embargo=HOURS | +Tag | -Tag | Tag | by=Author | by+Co-author
"""

from __future__ import annotations

import json
import random
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
OUTPUT = HERE / "articles.jsonl"
SITE = "https://ledger.example"
MAX_AGE_HOURS = 240.0  # the newest ~10 days of a news site

# The Ledger's newsroom (all invented) and the sections each usually writes for.
STAFF: dict[str, tuple[str, ...]] = {
    "Maya Okafor": ("Local", "Politics"),
    "Kofi Mensah-Doyle": ("Local",),
    "Yewande Ashby": ("Local", "Education"),
    "Saoirse Kell": ("Local", "Sport"),
    "Declan Furlow": ("Politics",),
    "Anselm Roake": ("Politics", "Opinion"),
    "Edith Quarrie": ("Opinion",),
    "Priya Raman": ("Business",),
    "Tomasz Wielgus": ("Business", "Technology"),
    "Nadia Kestrel": ("Technology",),
    "Hattie Penrose": ("Sport",),
    "Callum Dray": ("Sport",),
    "Ines Carvalho": ("Science",),
    "Jonah Whitlock": ("Science", "Environment"),
    "Samir Haddad": ("Health", "Science"),
    "Ruth Abernathy": ("Health",),
    "Owen Tregarthen": ("Environment",),
    "Bea Lindqvist": ("Environment", "Weather"),
    "Rowan Blaise": ("Weather",),
    "Lottie Marchbanks": ("Culture",),
    "Clem Hartigan": ("Culture", "Food"),
    "Marco Bellandi": ("Food",),
    "Gareth Moss": ("Education",),
    "Iris Fenwick": ("Travel",),
    "Felix Arundel": ("Travel", "Culture"),
}


class SeedError(ValueError):
    """A seed file breaks the format or the content rules; the message names file and line."""


@dataclass
class Seed:
    """One article as written in a seed file."""

    section: str
    slug: str
    tags: list[str]
    authors: list[str]
    background: str
    title: str = ""
    lead: str = ""
    paragraphs: list[str] = field(default_factory=list)
    status: str = "published"
    embargo_in_hours: float | None = None
    where: str = ""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].rstrip("-")


def _apply_flags(seed: Seed, flags: str, vocab: set[str]) -> None:
    for raw in flags.split(";"):
        flag = raw.strip()
        if not flag:
            continue
        if flag in ("draft", "retracted"):
            seed.status = flag
        elif flag.startswith("embargo="):
            seed.embargo_in_hours = float(flag.split("=", 1)[1])
        elif flag.startswith("by="):
            seed.authors = [flag[3:].strip()]
        elif flag.startswith("by+"):
            seed.authors = [*seed.authors, flag[3:].strip()]
        elif flag.startswith("-"):
            seed.tags = [t for t in seed.tags if t != flag[1:].strip()]
        else:
            tag = flag.removeprefix("+").strip()
            if tag not in vocab:
                raise SeedError(f"{seed.where}: unknown flag or tag {flag!r}")
            seed.tags = [*seed.tags, tag]


def parse_seed_file(path: Path) -> list[Seed]:
    """Parse one section's seed file into articles, checking tags and authors as it goes."""
    section = slug = ""
    vocab: set[str] = set()
    cluster_tags: list[str] = []
    cluster_authors: list[str] = []
    background = ""
    seeds: list[Seed] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        if not line.strip():
            continue
        if line.startswith("== "):
            section, slug = (part.strip() for part in line[3:].split("|"))
        elif line.startswith("tags:"):
            vocab = {t.strip() for t in line[5:].split(",")}
        elif line.startswith("## "):
            tag_text, author = (part.strip() for part in line[3:].split("|"))
            cluster_tags = [t.strip() for t in tag_text.split(",")]
            unknown = set(cluster_tags) - vocab
            if unknown:
                raise SeedError(f"{where}: tags not in the section vocabulary: {sorted(unknown)}")
            cluster_authors = [author]
            background = ""
        elif line.startswith("bg:"):
            background = line[3:].strip()
        elif line.startswith("t:"):
            seeds.append(
                Seed(section=section, slug=slug, tags=list(cluster_tags),
                     authors=list(cluster_authors), background=background,
                     title=line[2:].strip(), where=where)
            )  # fmt: skip
        elif line.startswith(("l:", "b:", "x:")):
            if not seeds:
                raise SeedError(f"{where}: {line[:2]} before the first t: line")
            seed = seeds[-1]
            if line.startswith("l:"):
                seed.lead = line[2:].strip()
            elif line.startswith("b:"):
                seed.paragraphs.append(line[2:].strip())
            else:
                _apply_flags(seed, line[2:], vocab)
        else:
            raise SeedError(f"{where}: cannot parse {line[:40]!r}")
    return seeds


def _check(seed: Seed) -> None:
    problems = []
    if not (seed.title and seed.lead):
        problems.append("needs a title and a lead")
    if not 2 <= len(seed.tags) <= 4:
        problems.append(f"has {len(seed.tags)} tags (2-4 wanted)")
    if not 1 <= len(seed.authors) <= 2 or any(a not in STAFF for a in seed.authors):
        problems.append(f"authors {seed.authors} must be 1-2 names from STAFF")
    paragraphs = len(seed.paragraphs) + bool(seed.background)
    if not 2 <= paragraphs <= 4:
        problems.append(f"body has {paragraphs} paragraphs (2-4 wanted)")
    if problems:
        raise SeedError(f"{seed.where}: {seed.title[:50]!r} " + "; ".join(problems))


def _ages(rng: random.Random, count: int) -> list[float]:
    """Hours before the anchor, oldest first; squaring the draw makes recent hours denser."""
    ages = sorted((0.3 + (MAX_AGE_HOURS - 0.3) * rng.random() ** 1.6 for _ in range(count)),
                  reverse=True)  # fmt: skip
    return [max(0.25, round(age * 4) / 4) for age in ages]


def build_rows(seed_dir: Path = SEEDS) -> list[dict[str, Any]]:
    """All demo rows, in seed order, with ids demo-0001..."""
    rng = random.Random(1868)  # fixed: the same seeds always give the same file
    rows: list[dict[str, Any]] = []
    slugs: set[str] = set()
    for path in sorted(seed_dir.glob("*.txt")):
        seeds = parse_seed_file(path)
        # Follow-ups of one cluster share a background; give each cluster ordered times.
        clusters: list[list[Seed]] = []
        for seed in seeds:
            if clusters and seed.background and clusters[-1][0].background == seed.background:
                clusters[-1].append(seed)
            else:
                clusters.append([seed])
        for cluster in clusters:
            timed = [s for s in cluster if s.status != "draft" and s.embargo_in_hours is None]
            ages = iter(_ages(rng, len(timed)))
            for seed in cluster:
                _check(seed)
                slug = slugify(seed.title)
                if slug in slugs:
                    raise SeedError(f"{seed.where}: duplicate title slug {slug!r}")
                slugs.add(slug)
                body = [*seed.paragraphs, *([seed.background] if seed.background else [])]
                row: dict[str, Any] = {
                    "external_id": f"demo-{len(rows) + 1:04d}",
                    "url": f"{SITE}/{seed.slug}/{slug}",
                    "title": seed.title,
                    "lead": seed.lead,
                    "body": "\n\n".join(body),
                    "section": seed.section,
                    "tags": seed.tags,
                    "authors": seed.authors,
                    "language": "en",
                    "status": seed.status,
                }
                if seed.embargo_in_hours is not None:
                    row["embargo_in_hours"] = seed.embargo_in_hours
                elif seed.status != "draft":
                    row["published_ago_hours"] = next(ages)
                rows.append(row)
    return rows


def main() -> int:
    try:
        rows = build_rows()
    except SeedError as exc:
        print(f"Seed error: {exc}", file=sys.stderr)
        return 1
    with OUTPUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    sections = {row["section"] for row in rows}
    print(f"Wrote {len(rows)} articles in {len(sections)} sections to {OUTPUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
