#!/bin/bash
# HEALTHCHECK of the service images: GET http://127.0.0.1:$PORT/health through bash's /dev/tcp, so
# the runtime images need no HTTP client. Healthy when the status line says 200.
port="${PORT:-8000}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) exit 1 ;;
esac
