"""The command modules, one per group. :class:`cinchdb.cli._app.CinchGroup` imports each on
first lookup, through its ``COMMANDS`` table; nothing here registers anything."""
