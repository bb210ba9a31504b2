"""Terminal 5 plugin template: the ``example`` exchange."""
