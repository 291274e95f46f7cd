"""Readers' data for the host's servers: export and erase a reader it names by its own id."""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import readers
from newsrec.api import examples
from newsrec.api.authentication import ApiKeyAuthentication
from newsrec.api.base import NewsrecAPIView
from newsrec.api.errors import ErrorSerializer
from newsrec.api.events import ExportSerializer
from newsrec.api.permissions import CanManageReaders
from newsrec.models import Reader

REFERENCE = OpenApiParameter(
    "reference",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description=(
        "The reader's id on your side (the `reader_id` sent with their events), else their "
        "public id (a UUID, as in their export)."
    ),
)
NO_READER = OpenApiResponse(ErrorSerializer, description="No reader by that id.")


def _reader(reference: str) -> Reader:
    reader = readers.reader_by_reference(reference=reference)
    if reader is None:
        raise NotFound("No such reader.")
    return reader


class ReaderDataView(NewsrecAPIView):
    """Common ground: who may call, and no cache keeps the answer."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [CanManageReaders]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        return response


class ReaderExportView(ReaderDataView):
    """Everything stored about one reader, for a subject access request."""

    @extend_schema(
        parameters=[REFERENCE],
        responses={200: ExportSerializer, 404: NO_READER},
        examples=[examples.EXPORT],
        description=(
            "Needs the manage-readers scope (or staff with the reader-data permission). The "
            "same document as the reader's own `GET /me/export/`."
        ),
    )
    def get(self, request: Request, reference: str) -> Response:
        return Response(readers.reader_export(reader=_reader(reference)))


class ReaderDetailView(ReaderDataView):
    """Erase one reader: every event, the profile, the feed and the reader record."""

    @extend_schema(
        parameters=[REFERENCE],
        responses={204: None, 404: NO_READER},
        description=(
            "Needs the manage-readers scope (or staff with the reader-data permission). Erases "
            "as the reader's own `DELETE /me/` does; a later event with the same id starts a "
            "new, empty reader."
        ),
    )
    def delete(self, request: Request, reference: str) -> Response:
        readers.reader_erase(reader=_reader(reference))
        return Response(status=status.HTTP_204_NO_CONTENT)
