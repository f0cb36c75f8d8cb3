"""polyviz: the geometry of LayerNorm and of ReLU polytopes, as plain functions and figures.

The library never imports Dash: every figure the app shows can be rebuilt in a notebook
with ``polyviz.figures.<name>(...)``.
"""

__version__ = "0.1.0"
