"""The permissions the editors' admin pages ask for, by the names `User.has_perm` takes."""

from __future__ import annotations

VIEW_RULESET = "editorial.view_ruleset"
ADD_RULESET = "editorial.add_ruleset"
PUBLISH_RULESET = "editorial.publish_ruleset"  # publish, schedule, roll back, restore
PREVIEW_RULESET = "editorial.preview_ruleset"  # preview a set on readers and personas
RUN_EXPERIMENT = "editorial.run_experiment"  # start and stop experiments
VIEW_READER_DATA = "newsrec.view_reader_data"  # find a reader by e-mail or user name
