"""URLs of the runnable site: reader pages, admin, API and its docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("newsrec.api.urls")),
    path("api/v1/", include("editorial.api.urls")),  # rules and experiments
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's setup as a script file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("newsrec.urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    # Last: unknown reader URLs get the site's 404 page even with DEBUG on (the demo's setting);
    # the API and the admin keep their own answers.
    re_path(r"^(?!api/|admin/)(?P<path>.*)$", views.page_not_found, name="not-found"),
]

# JSON errors under /api/, Django's HTML pages elsewhere.
handler400 = "newsrec.api.errors.bad_request"
handler403 = "newsrec.api.errors.permission_denied"
handler404 = "newsrec.api.errors.page_not_found"
handler500 = "newsrec.api.errors.server_error"
