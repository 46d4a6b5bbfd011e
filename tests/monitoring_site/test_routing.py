"""api_path and Router: one pattern for both spellings of a path, any Django converter."""

from __future__ import annotations

import pytest

from monitoring_site.api.routing import Router, api_path


def _view() -> None:
    return None


def resolve(route: str, path: str) -> dict[str, str] | None:
    match = api_path(route, _view, name="thing").resolve(path.removeprefix("/"))
    return None if match is None else match.kwargs


@pytest.mark.parametrize("path", ["/api/things/7", "/api/things/7/"])
def test_an_int_parameter_matches_with_and_without_the_slash(path: str) -> None:
    assert resolve("api/things/<int:pk>", path) == {"pk": "7"}


def test_an_int_parameter_refuses_other_text() -> None:
    assert resolve("api/things/<int:pk>", "/api/things/seven") is None
    assert resolve("api/things/<int:pk>", "/api/things/7/extra") is None


def test_slug_uuid_and_plain_parameters_use_djangos_converters() -> None:
    assert resolve("api/s/<slug:key>", "/api/s/order-service") == {"key": "order-service"}
    assert resolve("api/s/<slug:key>", "/api/s/order service") is None
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert resolve("api/u/<uuid:ref>", f"/api/u/{uuid}/") == {"ref": uuid}
    assert resolve("api/n/<name>", "/api/n/anything") == {"name": "anything"}


def test_literal_dots_are_not_wildcards() -> None:
    assert resolve("api/v1.0/x", "/api/v1.0/x") == {}
    assert resolve("api/v1.0/x", "/api/v1x0/x") is None


def test_an_unknown_converter_fails_at_import() -> None:
    with pytest.raises(ValueError, match="unknown path converter 'integer'"):
        api_path("api/things/<integer:pk>", _view)


def test_router_routes_accept_an_optional_slash() -> None:
    assert Router().trailing_slash == "/?"
