#!/bin/bash
# HEALTHCHECK of the service images: GET http://<HOST>:$PORT/health through bash's /dev/tcp, so
# the runtime images need no HTTP client. Healthy when the status line says 200. A service bound
# to every interface is asked on 127.0.0.1; one bound to an address (the executor manager on the
# docker0 gateway under compose) on that address.
port="${PORT:-8000}"
host="${HOST:-127.0.0.1}"
case "$host" in
  ""|0.0.0.0|::|"[::]") host=127.0.0.1 ;;
esac
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) exit 1 ;;
esac
