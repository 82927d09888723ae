"""``python -m disentangle`` is the ``disentangle`` command."""

import sys

from disentangle.cli import main

sys.exit(main())
