"""The editors' REST API: rule sets and rules, experiments and their results."""
