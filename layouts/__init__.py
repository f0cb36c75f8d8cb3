"""Page layouts: one module per page, each with a ``layout(**query)`` function and its ids."""
