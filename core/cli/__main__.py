"""``python -m terminal5.cli``."""

import sys

from terminal5.cli.main import main

sys.exit(main())
