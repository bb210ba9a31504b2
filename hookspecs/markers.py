"""The pluggy markers of the ``terminal5`` project (also the entry-point group name)."""

import pluggy

PROJECT = "terminal5"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
