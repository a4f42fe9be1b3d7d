"""``python -m plnet`` is the ``plnet`` command line."""

import sys

from plnet.cli import main

sys.exit(main())
