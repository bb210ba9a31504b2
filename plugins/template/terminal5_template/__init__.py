"""Terminal 5 plugin template: the ``loopback`` exchange (a plugin to copy)."""
