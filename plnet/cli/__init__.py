"""The ``plnet`` command line: demo, inspect, convert, certify.

Exit status: 0 on success, 1 when plnet reports an error (``plnet: error: ...`` on stderr),
2 on a usage error (as argparse does), 130 when interrupted, 141 when stdout closes early
(``plnet ... | head``). ``PLNET_DEBUG=1`` adds the traceback to an error's message.
"""

from plnet.cli.parser import build_parser
from plnet.cli.run import main

__all__ = ["build_parser", "main"]
