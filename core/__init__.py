"""Terminal 5: a plugin-based exchange gateway."""

__version__ = "0.1.0"
