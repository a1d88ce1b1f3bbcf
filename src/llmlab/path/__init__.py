"""The learning path: curriculum, tracks, dated plans, progress from lab runs, notes, weekly reports.

The modules, in the order a plan lives:

- ``curriculum`` / ``topics``: the curriculum as data (one YAML file per section, ``tracks.yaml``);
- ``store``: the SQLite database in the data home (WAL, migrations) and the clock ``today()``;
- ``plan``: pack a track into dated study days within a daily budget; replan after missed days;
- ``progress``: tick tasks done or skipped, the streak, per-section progress;
- ``results``: ``record_run(lab, command, figures)``, called by lab commands, ticks linked tasks;
- ``notes``: the Q&A notebook per topic, with full-text search and a Markdown export;
- ``report`` / ``render``: the weekly report as Markdown and self-contained HTML;
- ``transfer``: JSON export and import of everything.
"""
