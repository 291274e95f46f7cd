"""editorial: the editors' app (rules, preview, audit, experiments)."""
