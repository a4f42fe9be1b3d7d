"""Reference analyses in numpy float64: the oracle every other implementation is tested against."""

from plnet.analysis.bisection import Bracket, bisect_directions, l1_margin_bisection
from plnet.analysis.counting import RegionCount, RegionCounter, count_linear_regions
from plnet.analysis.interpreter import Interpreter
from plnet.analysis.linearize import Linearization, linearize
from plnet.analysis.margins import (binding_units, directional_margin, directional_margin_from,
                                    margin, margin_from, unit_distances)
from plnet.analysis.pattern import ActivationPattern, activation_pattern
from plnet.analysis.region import Polyhedron, region

__all__ = [
    "ActivationPattern", "Bracket", "Interpreter", "Linearization", "Polyhedron", "RegionCount",
    "RegionCounter",
    "activation_pattern", "binding_units", "bisect_directions", "count_linear_regions",
    "directional_margin", "directional_margin_from", "l1_margin_bisection", "linearize",
    "margin", "margin_from", "region", "unit_distances",
]
