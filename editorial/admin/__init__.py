"""The editors' room in the admin: the ModelAdmin registrations (rule sets and their versions,
experiments, the audit trail, analytics, nudges) and "Pick for readers" on the article list.

The pages beyond CRUD are class-based views in `editorial.views`, served by each ModelAdmin's
`get_urls`.
"""

from editorial import (
    analytics_admin,  # noqa: F401  (registers the analytics page)
    nudges_admin,  # noqa: F401  (registers the nudges controls)
)
from editorial.admin import audit, experiments, picks, rulesets  # noqa: F401  (register)
from editorial.admin.audit import AuditEntryAdmin, RulesStateAdmin
from editorial.admin.experiments import ExperimentAdmin, VariantInline
from editorial.admin.picks import pick_for_readers
from editorial.admin.rulesets import (
    AuditedAdmin,
    RuleInline,
    RuleSetAdmin,
    RuleSetVersionAdmin,
    VersionInline,
)

__all__ = [
    "AuditEntryAdmin",
    "AuditedAdmin",
    "ExperimentAdmin",
    "RuleInline",
    "RuleSetAdmin",
    "RuleSetVersionAdmin",
    "RulesStateAdmin",
    "VariantInline",
    "VersionInline",
    "pick_for_readers",
]
