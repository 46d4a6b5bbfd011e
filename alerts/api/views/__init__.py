"""API views of the alerts app, one module per sub-domain."""
