"""The alert pages for people in a browser: ``/alerts/``, ``/alerts/<id>/``, ``/rules/``.

Session login (the dashboard's), viewer role to look, operator role to acknowledge, resolve and
silence (through the same services as the API and the admin), CSRF on every action.
"""
