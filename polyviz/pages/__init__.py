"""Page states: one module per page of the app, each a frozen dataclass validated by
:mod:`polyviz.state` plus the server limits it enforces (and, where the page says things about
its results, the words, as plain functions of plain values). No Dash here: a benchmark or a
notebook parses a page's URL without the web stack."""
