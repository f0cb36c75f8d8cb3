"""Plotly figure builders: the exact figures the app shows, callable from a notebook.

    >>> from polyviz import figures
    >>> figures.stretch_fold_figures(op="shift", t=2.0, eps=0.01)["circle"].show()

One module per page (``stretch_fold``, ``sphere``, ``train``; ``previews`` for the landing
page) on top of ``common`` (template, colours, typed arrays, base layout). Every builder is
here under its own name: ``<name>_spec(...)`` returns the plain figure dict the app sends,
``<name>_figure(...)`` (``stretch_fold_figures`` for the whole page) a Plotly Figure.
"""

from .sphere import (
    PALETTE,
    arcs_3d_figure,
    arcs_3d_spec,
    code_color,
    code_palette_index,
    great_circle_figure,
    great_circle_spec,
    icosphere,
    rotation_figure,
    rotation_spec,
    scaling_figure,
    scaling_spec,
    scene_figure,
    scene_marker_traces,
    scene_spec,
    sphere_regions_figure,
    sphere_regions_spec,
    unrolled_figure,
    unrolled_spec,
)
from .stretch_fold import (
    activation_curve_figure,
    activation_curve_spec,
    activation_surface_figure,
    activation_surface_spec,
    circle_figure,
    circle_spec,
    sphere_figure,
    sphere_spec,
    stretch_fold_figures,
    stretch_fold_specs,
)
from .common import with_camera
from .compare import compare_curves_figure, compare_curves_spec
from .neurons import neuron_maps_figure, neuron_maps_spec
from .train import (
    checkpoint_embedding_figure,
    checkpoint_embedding_spec,
    confusion_matrix_figure,
    confusion_matrix_spec,
    decision_boundary_figure,
    decision_boundary_spec,
    interpolation_animation_figure,
    interpolation_animation_spec,
    layer_embeddings_figure,
    layer_embeddings_spec,
    seed_sweep_figure,
    seed_sweep_spec,
    training_curves_figure,
    training_curves_spec,
)

__all__ = [
    # Stretch & fold
    "circle_spec", "activation_curve_spec", "activation_surface_spec", "sphere_spec", "stretch_fold_specs",
    "circle_figure", "activation_curve_figure", "activation_surface_figure", "sphere_figure", "stretch_fold_figures",
    # Polytopes on the LayerNorm sphere
    "PALETTE", "code_palette_index", "code_color", "icosphere",
    "arcs_3d_spec", "unrolled_spec", "sphere_regions_spec", "scaling_spec", "rotation_spec",
    "scene_spec", "scene_marker_traces", "great_circle_spec",
    "arcs_3d_figure", "unrolled_figure", "sphere_regions_figure", "scaling_figure", "rotation_figure",
    "scene_figure", "great_circle_figure",
    # Toy classifier lab
    "training_curves_spec", "decision_boundary_spec", "interpolation_animation_spec", "checkpoint_embedding_spec",
    "seed_sweep_spec", "training_curves_figure", "decision_boundary_figure", "interpolation_animation_figure",
    "checkpoint_embedding_figure", "seed_sweep_figure",
    "confusion_matrix_spec", "confusion_matrix_figure", "layer_embeddings_spec", "layer_embeddings_figure",
    "neuron_maps_spec", "neuron_maps_figure",
    # Compare
    "compare_curves_spec", "compare_curves_figure",
    # a 3-D figure seen from a link's camera
    "with_camera",
]
