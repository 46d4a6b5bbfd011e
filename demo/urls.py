from __future__ import annotations

from django.urls import URLPattern, path

from demo import views

urlpatterns: list[URLPattern] = [path("demo/inbox/", views.inbox, name="demo-inbox")]
