"""What every newsrec API view declares itself, as DRF's own views do.

A host project installs newsrec next to its own API, with its own ``REST_FRAMEWORK`` defaults
(or none): authentication, permissions, throttles, parsers, renderers, pagination, the error
shape and the schema class are the view's own, never the host's defaults, so the API answers
the same in every host and the host's settings are its own business. Views narrow these where
they need to (an endpoint for API keys only, a reader-only permission).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from newsrec.api.authentication import ApiKeyAuthentication
from newsrec.api.errors import exception_handler
from newsrec.api.parsers import BoundedJSONParser
from newsrec.api.throttling import AnonymousRateThrottle, ApiKeyRateThrottle, ReaderRateThrottle


class NewsrecAPIView(APIView):
    """The base of newsrec's API views (and editorial's): list it before DRF's generic views,
    ``class RuleSetListView(NewsrecAPIView, generics.ListAPIView)``."""

    authentication_classes = [ApiKeyAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticatedOrReadOnly]
    # per API key, per logged-in reader, per anonymous address: NEWSREC["API_RATES"]
    throttle_classes = [ApiKeyRateThrottle, ReaderRateThrottle, AnonymousRateThrottle]
    parser_classes = [BoundedJSONParser]  # JSON only, bounded in size and depth
    renderer_classes = [JSONRenderer]
    content_negotiation_class = DefaultContentNegotiation
    pagination_class: Any = None  # the list views that page name their own
    filter_backends: Any = ()
    versioning_class = None
    schema = AutoSchema()  # drf-spectacular's, whatever DEFAULT_SCHEMA_CLASS the host has

    def get_exception_handler(self) -> Any:
        """One JSON error shape ({"code", "message", "errors"}), whatever the host's handler."""
        return exception_handler
