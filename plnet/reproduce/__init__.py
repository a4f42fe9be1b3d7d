"""The paper's tables and figures, reproduced on offline data: ``plnet reproduce NAME``.

One module per table or figure registers a runner (:mod:`plnet.reproduce.registry`);
``docs/reproduction.md`` lists the commands, the numbers they gave, and how they differ
from the paper's.
"""

from plnet.reproduce.registry import NAMES, REPRODUCTIONS, Reproduction, register, run

__all__ = ["NAMES", "REPRODUCTIONS", "Reproduction", "register", "run"]
