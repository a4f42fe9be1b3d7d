"""The region complex around a point: facets, neighbouring regions and a local search.

``facets`` and ``neighbours`` need only scipy (HiGHS through ``scipy.optimize.linprog``);
``explore`` solves its programs inside an l_p ball with cvxpy (the ``exact`` extra).
``slice2d`` and ``slice1d`` partition a plane or a line through the input space exactly
(numpy only); ``Slice.plot`` draws one with matplotlib (the ``plot`` extra).
"""

from plnet.regions.explore import explore
from plnet.regions.facets import Facets, facets
from plnet.regions.neighbours import Neighbour, neighbours
from plnet.regions.slices import Slice, slice1d, slice2d

__all__ = ["Facets", "Neighbour", "Slice", "explore", "facets", "neighbours", "slice1d",
           "slice2d"]
