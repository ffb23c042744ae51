#!/bin/sh
# Creates S3_BUCKET on the S3 server at S3_URL (default http://rustfs:9000) with a signed
# CreateBucket request; an existing bucket is fine. The `rustfs-init` compose profile runs it in a
# curl image; scripts/images.sh runs it against the test S3 server.
set -eu
url="${S3_URL:-http://rustfs:9000}"
out="$(mktemp)"
# x-amz-content-sha256 (of the empty body) is signed too; curl does not add it by itself.
code="$(curl -sS -o "$out" -w '%{http_code}' -X PUT \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" \
  --user "${S3_ACCESS_KEY}:${S3_SECRET_KEY}" \
  "${url%/}/${S3_BUCKET}")" || code=000
case "$code" in
  200) echo "bucket ${S3_BUCKET} created" ;;
  409) echo "bucket ${S3_BUCKET} exists" ;;
  *) echo "cannot create bucket ${S3_BUCKET} at ${url} (HTTP ${code}): $(head -c 500 "$out")" >&2; rm -f "$out"; exit 1 ;;
esac
rm -f "$out"
