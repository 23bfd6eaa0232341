"""The image's HEALTHCHECK: GET /api/health on the port the server listens on (NEWSQA_API__PORT,
or the old NEWSQA_PORT, as `newsqa serve` reads it), exit 0 when it answers 200."""

import os
import sys
import urllib.request

port = os.environ.get("NEWSQA_API__PORT") or os.environ.get("NEWSQA_PORT") or "8000"  # old name
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=4) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError as exc:
    print(f"unhealthy: http://127.0.0.1:{port}/api/health: {exc}", file=sys.stderr)
    sys.exit(1)
