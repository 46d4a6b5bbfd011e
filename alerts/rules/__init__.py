"""Rules: their writes (``services``), validation, and replay over history (``preview``)."""
