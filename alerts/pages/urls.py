"""The alert pages' URLs (``/alerts/``, ``/alerts/<id>/``, ``/rules/``) and their actions."""

from __future__ import annotations

from django.urls import URLPattern, path

from alerts.pages import views

urlpatterns: list[URLPattern] = [
    path("alerts/", views.AlertListView.as_view(), name="alerts-page"),
    path("alerts/<int:pk>/", views.AlertPageView.as_view(), name="alert-page"),
    path("alerts/<int:pk>/chart.png", views.AlertChartView.as_view(), name="alert-page-chart"),
    path(
        "alerts/<int:pk>/acknowledge/",
        views.AcknowledgeView.as_view(),
        name="alert-page-acknowledge",
    ),
    path("alerts/<int:pk>/resolve/", views.ResolveView.as_view(), name="alert-page-resolve"),
    path("alerts/<int:pk>/silence/", views.SilenceView.as_view(), name="alert-page-silence"),
    path("rules/", views.RuleListView.as_view(), name="rules-page"),
]
