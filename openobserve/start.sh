#!/usr/bin/env bash
# Starts OpenObserve for aurora-logs (the aurora-openobserve image's entrypoint).
#
# Single node by default (ZO_LOCAL_MODE=true, metadata in SQLite under ZO_DATA_DIR), with the
# parquet files in S3: bucket company-aurora-logs-poc under the prefix openobserve/, credentials
# from the pod's IAM role (IRSA) or the usual AWS variables. Every ZO_* variable set in the
# environment wins over the defaults below; see OpenObserve's documentation for the others.
#
# Required:
#   ZO_ROOT_USER_EMAIL     the root user, a lowercase e-mail address (created on first start)
#   ZO_ROOT_USER_PASSWORD  its password
# Defaults (in brackets):
#   ZO_DATA_DIR            [/data]
#   ZO_LOCAL_MODE_STORAGE  s3 | disk                                 [s3]
#   ZO_S3_BUCKET_NAME      [company-aurora-logs-poc]
#   ZO_S3_BUCKET_PREFIX    [openobserve/]
#   ZO_S3_REGION_NAME      [$AWS_REGION, else us-east-1]
#   ZO_S3_PROVIDER         [aws]
#   ZO_INGEST_ALLOWED_UPTO hours into the past a record may lie     [744: 31 days]
#       Aurora keeps log files up to 30 days and a backfill ships them all; OpenObserve's own
#       default (5 hours) would reject most of a backfill record by record.
#   ZO_HTTP_PORT           [5080]; ZO_GRPC_PORT [5081]
#   ZO_TELEMETRY           [false]
#   OPENOBSERVE_BIN        the binary to exec  [/usr/local/bin/openobserve]
#
# "start.sh healthcheck" asks GET /healthz on the local port and exits 0 when it answers ok
# (the image's HEALTHCHECK; bash only, no curl in the image).
set -euo pipefail

: "${ZO_HTTP_PORT:=5080}"
export ZO_HTTP_PORT

if [ "${1:-}" = "healthcheck" ]; then
  exec 3<>"/dev/tcp/127.0.0.1/${ZO_HTTP_PORT}"
  printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  grep -Eq '"status" ?: ?"ok"' <&3
  exit $?
fi

if [ -z "${ZO_ROOT_USER_EMAIL:-}" ] || [ -z "${ZO_ROOT_USER_PASSWORD:-}" ]; then
  echo "start.sh: ZO_ROOT_USER_EMAIL and ZO_ROOT_USER_PASSWORD must be set (see k8s/secrets/)" >&2
  exit 64
fi
if [ "$ZO_ROOT_USER_EMAIL" != "${ZO_ROOT_USER_EMAIL,,}" ] || [[ "$ZO_ROOT_USER_EMAIL" != *?@?* ]]; then
  echo "start.sh: ZO_ROOT_USER_EMAIL must be a lowercase e-mail address" >&2
  exit 64
fi

export ZO_LOCAL_MODE="${ZO_LOCAL_MODE:-true}"
export ZO_LOCAL_MODE_STORAGE="${ZO_LOCAL_MODE_STORAGE:-s3}"
export ZO_DATA_DIR="${ZO_DATA_DIR:-/data}"
export ZO_GRPC_PORT="${ZO_GRPC_PORT:-5081}"
export ZO_INGEST_ALLOWED_UPTO="${ZO_INGEST_ALLOWED_UPTO:-744}"
export ZO_TELEMETRY="${ZO_TELEMETRY:-false}"

if [ "$ZO_LOCAL_MODE_STORAGE" = "s3" ] || [ "$ZO_LOCAL_MODE" = "false" ]; then
  export ZO_S3_BUCKET_NAME="${ZO_S3_BUCKET_NAME:-company-aurora-logs-poc}"
  export ZO_S3_BUCKET_PREFIX="${ZO_S3_BUCKET_PREFIX:-openobserve/}"
  export ZO_S3_REGION_NAME="${ZO_S3_REGION_NAME:-${AWS_REGION:-us-east-1}}"
  export ZO_S3_PROVIDER="${ZO_S3_PROVIDER:-aws}"
  echo "start.sh: storing data in s3://${ZO_S3_BUCKET_NAME}/${ZO_S3_BUCKET_PREFIX} (${ZO_S3_REGION_NAME})" >&2
else
  echo "start.sh: storing data on disk under ${ZO_DATA_DIR}" >&2
fi

mkdir -p "$ZO_DATA_DIR"
exec "${OPENOBSERVE_BIN:-/usr/local/bin/openobserve}"
