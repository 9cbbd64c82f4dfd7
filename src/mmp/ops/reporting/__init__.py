"""The pull-request report: DVC's own metrics, params and plot data for two revisions, turned
into a Markdown page with PNG plots that renders offline (``mmp report``).

``dvc_data`` asks DVC (the only module here that runs anything), ``tables`` and ``plots`` are
pure, ``sections`` assembles the Markdown."""
