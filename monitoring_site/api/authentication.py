"""The API's bearer check (kept apart from the views: DRF imports it while loading its settings)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.tokens import Token

from monitoring_site.tokens import check_not_revoked


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's bearer check, refusing tokens issued before a revocation."""

    def get_user(self, validated_token: Token) -> Any:
        user = super().get_user(validated_token)
        check_not_revoked(validated_token, user)
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of the bearer check (the same ``jwtAuth`` as simplejwt's)."""

    target_class = "monitoring_site.api.authentication.JWTAuthentication"
