"""API serializers of the alerts app, one module per sub-domain."""
