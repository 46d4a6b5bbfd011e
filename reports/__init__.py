"""The daily report (uptime, incidents, business figures): not built yet.

The app is reserved so that its models, jobs and pages land in the shape every app has; today
it has none, no endpoints and no settings of its own (docs/architecture.md).
"""
