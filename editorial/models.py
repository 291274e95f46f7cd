"""Editorial rule models (rule sets, rules, audit) arrive with the rules issue."""
