"""The region complex around a point: facets, neighbouring regions and a local search.

``facets`` and ``neighbours`` need only scipy (HiGHS through ``scipy.optimize.linprog``);
``explore`` solves its programs inside an l_p ball with cvxpy (the ``exact`` extra).
"""

from plnet.regions.explore import explore
from plnet.regions.facets import Facets, facets
from plnet.regions.neighbours import Neighbour, neighbours

__all__ = ["Facets", "Neighbour", "explore", "facets", "neighbours"]
