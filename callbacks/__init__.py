"""Callbacks: one module per page, wiring that page's ids to polyviz."""
