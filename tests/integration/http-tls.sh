#!/usr/bin/env bash
# HTTP over TLS: http-h2.sh with a self-signed certificate (h2 by ALPN, and
# http/1.1), see there.
set -euo pipefail
HTTP_TLS=1 exec bash "$(dirname "$0")/http-h2.sh"
