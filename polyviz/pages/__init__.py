"""Page states (frozen dataclasses validated by :mod:`polyviz.state`) and the server limits
of each page, importable without Dash."""
