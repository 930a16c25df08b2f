#!/bin/sh
# Starts one Sentinel. Its config lives in the data volume because Sentinel rewrites it to
# remember the current primaries and epochs; the template is copied only the first time,
# with the secrets (which stay out of the committed template) added from the environment.
#
# Env: REDIS_PASSWORD, MASTER_NAMES (space-separated), SELF_HOST.
set -eu
conf=/data/sentinel.conf
if [ ! -f "$conf" ]; then
  cp /usr/local/etc/redis/sentinel.conf "$conf"
  {
    printf 'sentinel announce-ip %s\n' "$SELF_HOST"
    printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
    printf 'sentinel sentinel-pass "%s"\n' "$REDIS_PASSWORD"
    for m in $MASTER_NAMES; do printf 'sentinel auth-pass %s "%s"\n' "$m" "$REDIS_PASSWORD"; done
  } >>"$conf"
fi
exec docker-entrypoint.sh redis-server "$conf" --sentinel
