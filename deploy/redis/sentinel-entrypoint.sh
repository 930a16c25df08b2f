#!/bin/sh
# Starts one Sentinel. Its config lives in the data volume because Sentinel rewrites it to
# remember the current primaries and epochs; the template is copied only the first time,
# with the secrets (which stay out of the committed template) added from the environment.
#
# The groups it watches are the template's, kept in the volume ever after: a Sentinel whose
# copy watches other groups than MASTER_NAMES (a volume from a deployment with another
# shard count, or a template that does not match the manifests) refuses to start rather
# than leave a group unwatched.
#
# Env: REDIS_PASSWORD, MASTER_NAMES (space-separated), SELF_HOST.
set -eu
conf=/data/sentinel.conf
template=/usr/local/etc/redis/sentinel.conf
watching=$conf
[ -f "$conf" ] || watching=$template
watched=$(sed -n 's/^sentinel monitor \([^ ]*\) .*/\1/p' "$watching" | sort | tr '\n' ' ')
wanted=$(printf '%s\n' $MASTER_NAMES | sort | tr '\n' ' ')
if [ "$watched" != "$wanted" ]; then
  echo "refusing to start: $watching watches the groups [ $watched] but MASTER_NAMES names [ $wanted]." >&2
  echo "A changed shard count needs a fresh data set: start on fresh volumes (Sentinels' and Redis servers')." >&2
  exit 1
fi
if [ ! -f "$conf" ]; then
  cp "$template" "$conf"
  {
    printf 'sentinel announce-ip %s\n' "$SELF_HOST"
    printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
    printf 'sentinel sentinel-pass "%s"\n' "$REDIS_PASSWORD"
    for m in $MASTER_NAMES; do printf 'sentinel auth-pass %s "%s"\n' "$m" "$REDIS_PASSWORD"; done
  } >>"$conf"
fi
exec docker-entrypoint.sh redis-server "$conf" --sentinel
