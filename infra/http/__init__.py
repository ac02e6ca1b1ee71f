"""HTTP routes, one module per service, mounted by :mod:`infra.api`."""
