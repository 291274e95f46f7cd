"""Reader tokens for apps: trade a username and password for a token, or revoke it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import readers
from newsrec.api import examples
from newsrec.api.base import NewsrecAPIView
from newsrec.api.throttling import (
    AnonymousRateThrottle,
    ApiKeyRateThrottle,
    PasswordRateThrottle,
    ReaderRateThrottle,
)


def _utf8(value: str) -> None:
    """Refuse text PostgreSQL cannot store (a lone surrogate) before it reaches a query."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("Not valid Unicode text.") from None


class TokenRequestSerializer(serializers.Serializer):
    # Checked before authentication: a login attempt (and its lockout record) never sees a
    # name longer than a user name can be, or text that is not valid Unicode.
    username = serializers.CharField(max_length=150, validators=[_utf8])
    password = serializers.CharField(
        max_length=4096, style={"input_type": "password"}, validators=[_utf8]
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    reader_id = serializers.UUIDField(help_text="The reader's public id.")


class TokenView(NewsrecAPIView):
    """A reader's app logs in once and then sends ``Authorization: Token <token>``."""

    authentication_classes = [TokenAuthentication]  # no session: the body is the credential
    permission_classes = [AllowAny]
    throttle_classes = [
        ApiKeyRateThrottle,
        ReaderRateThrottle,
        AnonymousRateThrottle,
        PasswordRateThrottle,
    ]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        examples=[examples.TOKEN_REQUEST, examples.TOKEN],
        auth=[],
        description=(
            "Exchange a site login for the reader's token (the same token until revoked). "
            "The token then identifies the reader at /feeds/me/, /me/ and /events/. "
            "Password attempts are limited per address (NEWSREC rate `auth`)."
        ),
    )
    def post(self, request: Request) -> Response:
        TokenRequestSerializer(data=request.data).is_valid(raise_exception=True)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user: Any = serializer.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        reader = readers.reader_for_user(user=user)
        return Response({"token": token.key, "reader_id": str(reader.public_id)})

    @extend_schema(
        responses={204: OpenApiResponse(description="Revoked.")},
        description="Revoke the token sent in the Authorization header (log the app out).",
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, Token):
            raise NotAuthenticated("Send the token to revoke as `Authorization: Token <token>`.")
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
