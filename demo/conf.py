"""Settings of demo, read from the environment (imported into monitoring_site.settings).

``DEMO_MODE`` is set by ``make demo`` (bin/demo) only: it mounts ``/demo/inbox/`` and links it
from the dashboard. ``DEMO_INBOX_FILE`` is where the demo's local receivers record what they got
(default ``<VAR_DIR>/demo-inbox.jsonl``, filled in by monitoring_site.settings).
"""

from __future__ import annotations

from monitoring_site.env import env_bool, env_str

DEMO_MODE = env_bool("DEMO_MODE", False)
DEMO_INBOX_FILE = env_str("DEMO_INBOX_FILE", "")
