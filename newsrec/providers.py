"""What newsrec asks of the site's editorial layer: the live rules and readers' experiment arms.

newsrec never imports editorial (the dependency runs one way, ``editorial -> newsrec``). It asks
two small providers, as DRF loads its policy classes:

- ``NEWSREC["RULES_PROVIDER"]``: the live rules, site-wide (stored feeds) and as a read in a
  scope sees them (:class:`RulesProvider`);
- ``NEWSREC["EXPERIMENTS_PROVIDER"]``: a reader's arm in the running experiment and the readers
  a hand-weighted arm keeps off the learned ranker (:class:`ExperimentsProvider`);
- ``NEWSREC["NUDGES_PROVIDER"]``: what editors set for each kind of nudge: on or off, where,
  how often, its words and which risk bands get it (:class:`NudgesProvider`).

Each setting is a dotted path to a class (instantiated once) or an instance. Left empty, the
provider an installed app registered in its ``AppConfig.ready()`` is used (editorial registers
its own), and without one newsrec runs with no editorial rules and no experiments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.utils.module_loading import import_string

from newsrec.conf import newsrec_settings
from newsrec.engine.rules import Boost, Pin, Rules


@dataclass(frozen=True)
class ReadRules:
    """The rules a feed read in some scopes must obey, beyond the stored feed's own build.

    ``rules``: the site-wide rules with the scoped sets' layered over them; ``extra_boosts``:
    the scoped sets' boosts alone; ``section_pins``: the pins of the section page's own set (the
    only pins a section page shows: site-wide pins are for the front page and the unscoped
    feed); ``set_ids``: the scoped sets applied (empty: site-wide rules only).
    """

    rules: Rules
    extra_boosts: tuple[Boost, ...] = ()
    section_pins: tuple[Pin, ...] = ()
    set_ids: tuple[int, ...] = ()

    @property
    def scoped(self) -> bool:
        """Whether a scoped set applies (the read re-ranks the stored items under it)."""
        return bool(self.set_ids)

    @property
    def device_pins(self) -> bool:
        """Whether ``rules`` has pins limited to some devices (stored feeds, built without a
        device, cannot hold those: a read on a device must place them)."""
        return any(pin.segment.devices for pin in self.rules.pins)

    @property
    def tag(self) -> str:
        """Names the rules version and the scoped sets, for ETags: "r12" or "r12s3.7"."""
        ids = ".".join(str(pk) for pk in self.set_ids)
        return f"r{self.rules.version}" + (f"s{ids}" if ids else "")


class RulesProvider(Protocol):
    def live_rules(self) -> Rules:
        """The live site-wide rules, compiled at the current rules version (stored feeds)."""

    def read_rules(
        self, *, section: str = "", device: str = "", variant_id: int | None = None
    ) -> ReadRules:
        """The rules of a read on ``section``'s page, on ``device``, in an experiment variant
        (memoised: called on every feed read)."""

    def version(self) -> int:
        """The current rules version: every change of the live rules raises it."""


class Arm(Protocol):
    """A reader's experiment variant as the read path needs it."""

    @property
    def variant_id(self) -> int: ...

    @property
    def tag(self) -> str:
        """Carried in recommendation ids ("e3v7")."""

    @property
    def holdout(self) -> bool:
        """Recommendations off: the newest articles instead of a ranked feed."""

    @property
    def nudges(self) -> bool:
        """Whether the arm's readers may see nudges (False: a holdout, or a nudges-off arm)."""


class ExperimentsProvider(Protocol):
    def reader_arm(self, *, reader: Any) -> Arm | None:
        """The reader's arm in the running experiment (memoised), None outside any."""

    def readers_on_hand_weights(self, reader_ids: Sequence[int]) -> set[int]:
        """Of ``reader_ids``, those whose feeds stay on the hand-weighted formula."""


NUDGE_BEFORE_YOU_GO = "before-you-go"
NUDGE_PICK_UP = "pick-up"
NUDGE_KINDS = (NUDGE_BEFORE_YOU_GO, NUDGE_PICK_UP)
# Where a nudge may show: the article page, the front page, section pages, the API's clients.
NUDGE_SURFACES = ("article", "home", "section", "api")
NUDGE_COPY = {
    NUDGE_BEFORE_YOU_GO: ("Before you go", "Stories you have not read yet, picked for you:"),
    NUDGE_PICK_UP: ("Pick up where you left off", ""),
}


@dataclass(frozen=True)
class NudgePolicy:
    """What editors set for one kind of nudge; ``bands`` empty: every reader, scored or not."""

    kind: str
    enabled: bool = True
    surfaces: frozenset[str] = field(default_factory=lambda: frozenset(NUDGE_SURFACES))
    max_per_day: int = 1
    title: str = ""
    lead: str = ""
    bands: frozenset[str] = frozenset()

    def shows_on(self, surface: str) -> bool:
        return self.enabled and self.max_per_day > 0 and surface in self.surfaces


class NudgesProvider(Protocol):
    def nudge_policy(self, *, kind: str) -> NudgePolicy:
        """The policy of ``kind`` (one of NUDGE_KINDS) as editors set it now (memoised)."""


class SettingsNudges:
    """No editors' controls: every kind on everywhere, for every band, capped by NEWSREC."""

    def nudge_policy(self, *, kind: str) -> NudgePolicy:
        cap = (
            newsrec_settings.NUDGE_MAX_PER_DAY
            if kind == NUDGE_BEFORE_YOU_GO
            else newsrec_settings.NUDGE_PICKUP_MAX_PER_DAY
        )
        title, lead = NUDGE_COPY.get(kind, ("", ""))
        return NudgePolicy(kind=kind, max_per_day=int(cap), title=title, lead=lead)


class NoRules:
    """No editorial layer: no rules at all, version 0."""

    def live_rules(self) -> Rules:
        return Rules()

    def read_rules(
        self, *, section: str = "", device: str = "", variant_id: int | None = None
    ) -> ReadRules:
        return ReadRules(rules=Rules())

    def version(self) -> int:
        return 0


class NoExperiments:
    """No experiments: every reader gets the product as it is."""

    def reader_arm(self, *, reader: Any) -> Arm | None:
        return None

    def readers_on_hand_weights(self, reader_ids: Sequence[int]) -> set[int]:
        return set()


_registered: dict[str, Any] = {}
_loaded: dict[str, tuple[Any, Any]] = {}  # setting name -> (its value, provider)


def register(
    *,
    rules: RulesProvider | None = None,
    experiments: Any = None,
    nudges: NudgesProvider | None = None,
) -> None:
    """Called by an app's ``AppConfig.ready()`` to provide what the settings leave empty."""
    if rules is not None:
        _registered["RULES_PROVIDER"] = rules
    if experiments is not None:
        _registered["EXPERIMENTS_PROVIDER"] = experiments
    if nudges is not None:
        _registered["NUDGES_PROVIDER"] = nudges
    _loaded.clear()


def _provider(name: str, default: Any) -> Any:
    value = getattr(newsrec_settings, name)
    loaded = _loaded.get(name)
    if loaded is not None and loaded[0] is value:
        return loaded[1]
    if isinstance(value, str) and value:
        found = import_string(value)
        provider = found() if isinstance(found, type) else found
    elif value:
        provider = value
    else:
        provider = _registered.get(name) or default
    _loaded[name] = (value, provider)
    return provider


def rules_provider() -> RulesProvider:
    return _provider("RULES_PROVIDER", NoRules())  # type: ignore[no-any-return]


def experiments_provider() -> ExperimentsProvider:
    return _provider("EXPERIMENTS_PROVIDER", NoExperiments())  # type: ignore[no-any-return]


def nudges_provider() -> NudgesProvider:
    return _provider("NUDGES_PROVIDER", SettingsNudges())  # type: ignore[no-any-return]
