"""The checks, one module per area (see :data:`conformance.registry.AREAS`)."""
