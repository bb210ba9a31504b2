"""The Terminal 5 plugin contract: hook markers and hook specifications.

A plugin imports ``hookimpl`` (and ``overrides``, to override another plugin's exchange) from here, the
models from ``terminal5.models``, the errors from ``terminal5.errors`` and the immutable call types from
``terminal5.contract``. Nothing else of the core. The specifications, with their docstrings (the plugin
author's manual), are in ``terminal5.hookspecs.specs``.
"""

from terminal5.hookspecs.markers import PROJECT, hookimpl, hookspec, overrides

__all__ = ["PROJECT", "hookimpl", "hookspec", "overrides"]
