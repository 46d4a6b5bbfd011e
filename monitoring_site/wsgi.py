from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
django_application = get_wsgi_application()

from monitoring_site.chunked import ChunkedBodyMiddleware  # noqa: E402 (needs the settings)

application = ChunkedBodyMiddleware(django_application)
