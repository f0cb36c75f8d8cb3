"""Exact polytope geometry of a ReLU (or GELU) layer on the LayerNorm circle and sphere.

A layer ``z = W x + b`` (W: (n, d), one row per neuron) splits input space into convex
polytopes, one per *spline code* (the on/off pattern ``z > 0``). LayerNorm puts every
input on a sphere inside the hyperplane orthogonal to (1, ..., 1), so only the pieces of
that sphere matter:

* on a circle ``center + r (cos a p + sin a q)`` each neuron is ``A cos a + B sin a + c``,
  so its zero crossings are closed form (:func:`circle_arcs`, in ``circle.py``);
* on the unit 2-sphere each neuron's boundary is a circle (the plane ``w.x + b = 0`` cut
  with S2), and the regions are the faces of an arrangement of circles, counted exactly
  with Euler's formula (:func:`sphere_region_count`) and traced exactly, so that points
  can be labelled by connected region (:func:`sphere_regions`,
  :func:`sphere_region_labels`; all in ``arrangement.py``);
* along a ray k v, or a great circle from v towards w, the crossings are closed form too
  (:func:`scaling_regions`, :func:`rotation_probe`, in ``probes.py``).

``layer.py`` holds the layer itself (random layers, codes, ReLU/GELU) and
:func:`layernorm_sphere_layer`, which turns a layer on R^d into the equivalent layer on
the unit sphere of the LayerNorm plane (d = 4 gives S2). Every tolerance is in
``tolerances.py``.

Everything is float64 NumPy, vectorised, and exact up to those tolerances: sampling is
only ever a test oracle here, never the method. GELU shares ReLU's boundaries (GELU(z) is
z * Phi(z), and the soft code Phi(z) is 0.5 exactly where z = 0), so the geometry is the
same and only the soft code and the output differ.

    >>> from polyviz import polytopes
    >>> W, b = polytopes.random_layer(12, 4, seed=0)
    >>> polytopes.sphere_region_count(*polytopes.layernorm_sphere_layer(W, b))
    100
"""

from .arrangement import (
    BoundaryCircles,
    CircleArrangement,
    SphereRegions,
    boundary_circles,
    circle_arrangement,
    sphere_region_count,
    sphere_region_labels,
    sphere_regions,
)
from .circle import CircleCrossings, arc_bounds, circle_arcs, circle_coefficients, circle_crossings, layernorm_circle
from .layer import (
    ACTIVATIONS,
    TAU,
    activate,
    activation_slope,
    as_layer,
    check_activation,
    code_ids,
    code_keys,
    layernorm_sphere_layer,
    normal_cdf,
    plane_direction,
    preactivations,
    random_layer,
    random_readout,
    soft_code,
    spline_codes,
)
from .probes import RotationProbe, ScalingRegions, great_circle, rotation_plane, rotation_probe, scaling_regions

__all__ = [
    "ACTIVATIONS", "TAU",
    # layer
    "as_layer", "check_activation", "normal_cdf", "random_layer", "random_readout", "plane_direction",
    "preactivations", "spline_codes", "soft_code", "activate", "activation_slope", "code_keys", "code_ids",
    "layernorm_sphere_layer",
    # circle
    "CircleCrossings", "circle_coefficients", "circle_crossings", "circle_arcs", "arc_bounds", "layernorm_circle",
    # arrangement
    "BoundaryCircles", "boundary_circles", "CircleArrangement", "circle_arrangement", "sphere_region_count",
    "SphereRegions", "sphere_regions", "sphere_region_labels",
    # probes
    "ScalingRegions", "scaling_regions", "RotationProbe", "rotation_plane", "great_circle", "rotation_probe",
]
