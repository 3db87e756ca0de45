"""Settings of the web servers the fault tests start: production settings, static files read from source.

The same one override tests/conftest.py makes in-process: with DEBUG off the
manifest storage needs `collectstatic` first, which a test server does not run.
"""

from __future__ import annotations

from workbench.settings import *  # noqa: F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
