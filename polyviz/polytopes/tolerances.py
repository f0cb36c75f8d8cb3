"""Every tolerance of the polytope geometry, in one place.

Each one says what it merges (or tells apart). Relative tolerances (RTOL) are fractions of
the size of the quantities compared; the others are absolute, on the unit sphere S2
(distances, plane offsets) or in radians. Changing one changes what counts as "the same"
boundary, vertex or circle, so the region counts and the tests depend on these values.
"""

# --------------------------------------------------------------------------- on a circle
# Neuron j is R cos(a - phi) + c on the circle: it changes sign iff R > |c|, and its narrower
# arc (on if c < 0, off if c > 0) has half-width arccos(|c| / R). Tangency is decided in that
# angle, not in R - |c| relative to R (R - |c| = 1e-9 R is still an arc 9e-5 rad wide).
ANGLE_ATOL = 1e-9  # crossing angles (radians) closer than this merge into one boundary (the
#                    count of boundaries / arcs / crossings: distinct features this close are one)
TANGENT_ANGLE = 0.5 * ANGLE_ATOL  # a narrower arc of half-width <= this is a touch: no boundary
#                    (its two crossings would be closer than ANGLE_ATOL)
GAP_ULPS = 2.0 ** -52  # R - |c| within (d + 4) * GAP_ULPS * (the neuron's input size) of 0 is
#                    rounding: float64 cannot tell a crossing (an arc narrower than about
#                    sqrt(8 (d + 4) GAP_ULPS) rad, ~1e-7) from a touch or a miss. Such a neuron gives
#                    no boundary and is reported as *unresolved*, never silently as exact.
ZERO_RTOL = 1e-12  # a neuron below this fraction of its input size (r|w| + |w||center| + |b|) is identically zero

# --------------------------------------------------------------------------- along a ray or a great circle
BREAKPOINT_RTOL = 1e-12  # scaling breakpoints k closer than this fraction of k merge into one
SAME_DIRECTION_RTOL = 1e-12  # w - mean(w) within this fraction of its size of the line of v: no unique great circle

# --------------------------------------------------------------------------- circles on the unit sphere S2
SPHERE_TANGENT_TOL = 1e-12  # a plane with |offset| within this of 1 touches or misses S2: no circle. This
#                    drops real circles of radius up to sqrt(2e-12) ~ 1.4e-6 (and the regions inside
#                    them): the region count reports how many (``dropped_circles``), and is not exact then.
SPHERE_TANGENT_RADIUS = (2.0 * SPHERE_TANGENT_TOL) ** 0.5  # ... the largest such circle's radius
PARALLEL_TOL = 1e-20  # unit normals whose cross product has squared norm <= this are parallel ...
SAME_OFFSET_TOL = 1e-9  # ... and parallel circles whose offsets agree within this are one circle
DISC_TOL = 1e-12  # two circles whose intersection discriminant is within this of 0 touch (one point)
POINT_TOL = 1e-9  # intersection points closer than this merge into one vertex
POINT_ERR = 4e-15  # error bound of a crossing point times the sine of the crossing angle (50-digit checks: 1e-15)
MAX_POINT_ERR = 1e-3  # cap of that error: circles crossing at a smaller angle are one circle for merging
NEAR_PARALLEL_SIN2 = 1e-3  # crossings of circles whose normals' squared sine is below this get a Newton step
# Where two circles touch or cross at an angle with sine below ZONE_SIN, intersection points on
# one of them within SEP_TOL (plane distance) of the other merge into their common point: the
# circles cannot be told apart there (SEP_TOL is ~1000 times the rounding error of such distances).
ZONE_SIN = 1e-3
SEP_TOL = 1e-13

# --------------------------------------------------------------------------- face tracing and point location
EXIT_MAX = 1e-2  # largest chord of the small circle around a vertex on which its half-edges are ordered
ON_VERTEX_TOL = 2e-15  # a circle whose nearest point is this close to a vertex passes through it exactly
LOCATE_TOL = 1e-8  # a ray hit closer than this to a vertex (or than twice its cluster radius) is retried
