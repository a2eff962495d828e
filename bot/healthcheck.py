"""`python -m bot.healthcheck`: exit 0 when /healthz says healthy, 1 otherwise (Docker's
HEALTHCHECK; the image has no curl). Prints what /healthz answered, or why it could not ask."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("MJBOT_METRICS__PORT", "9108")
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            print(response.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode("utf-8", "replace") or f"HTTP {exc.code}")
    except OSError as exc:
        print(f"{url} does not answer ({exc}); is [metrics] enabled?")
    return 1


if __name__ == "__main__":
    sys.exit(main())
