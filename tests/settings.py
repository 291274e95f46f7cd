"""Test settings: the site's settings plus a stand-in CMS app for the registry tests."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Many requests come from one address in tests: the rate limits are tested with their own rates.
NEWSREC = {
    **NEWSREC,  # noqa: F405
    "API_RATES": {"api_key": None, "reader": None, "anon": None, "auth": None},
}
