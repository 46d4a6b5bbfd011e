"""The daily report: uptime, incidents and business figures for a day in TIME_ZONE.

Built by `selectors.py`, stored as `Report`, drawn by `charts/`, served by `views.py` and `api/`,
e-mailed by `delivery.py`, made every morning by the `reports.daily` job (docs/reports.md).
"""
