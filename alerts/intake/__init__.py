"""The Alertmanager-compatible intake: alerts from Prometheus and vmalert (source external).

``parsing`` validates what a sender posts to ``/api/v2/alerts``, ``tokens`` issues and checks the
senders' credentials, ``services`` runs each alert through the lifecycle.
"""
