"""Production settings for the static-file test, with one change: no brotli/gzip pre-compression.

Compressing every collected file (Swagger UI, the admin) takes minutes on a busy CI machine and
plays no part in what the test checks: which paths whitenoise answers. Hashed names and the
manifest (CompressedManifestStaticFilesStorage's parent) stay.
"""

from __future__ import annotations

from workbench.settings import *  # noqa: F403
from workbench.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
