#!/bin/sh
# Starts one Redis server of an HA group in the role the Sentinels say it has now.
#
# A server that was the primary and restarts from its own config would run as a second
# primary for ~10 s before Sentinel demotes it, taking writes that are then lost. So it
# asks the Sentinels first: if they name another server, it starts as that one's replica;
# if they still name this server (it just died), it waits for them to elect another.
# With no Sentinel answering (first start of the whole deployment) the group's default
# primary (node 0) is the primary. Every start is unpromotable (--replica-priority 0, which
# Sentinel's CONFIG REWRITE cannot undo) until the services' replica guard raises it.
#
# Which shard an entity lives on depends on the service's shard count, so the count is part
# of the data: a volume keeps the count it was first started with (/data/shop-shards) and
# refuses to start under another. A volume holding data but no record comes from before the
# count was recorded, when every deployment had one shard.
#
# Env: REDIS_PASSWORD, REDIS_GROUP, SELF_HOST, SELF_PORT, DEFAULT_PRIMARY (host:port),
#      SENTINELS (space-separated host:port), REDIS_SHARDS (shards per service).
set -eu

layout=/data/shop-shards
if [ -f "$layout" ]; then
  had=$(cat "$layout")
elif [ -e /data/appendonlydir ] || [ -e /data/dump.rdb ]; then
  had=1
else
  had=$REDIS_SHARDS
fi
if [ "$had" != "$REDIS_SHARDS" ]; then
  echo "refusing to start: this volume holds data laid out for $had shard(s), and REDIS_SHARDS is $REDIS_SHARDS." >&2
  echo "The shard count is fixed for the data's life: deploy the old count, or start on fresh volumes." >&2
  exit 1
fi
[ -f "$layout" ] || echo "$REDIS_SHARDS" >"$layout"

ask_sentinels() {
  for s in $SENTINELS; do
    reply=$(redis-cli -h "${s%:*}" -p "${s##*:}" -a "$REDIS_PASSWORD" --no-auth-warning --raw \
      SENTINEL get-master-addr-by-name "$REDIS_GROUP" 2>/dev/null || true)
    set -- $reply
    if [ $# -eq 2 ]; then
      echo "$1:$2"
      return 0
    fi
  done
  return 0
}

is_self() {
  [ "$1" = "$SELF_HOST:$SELF_PORT" ] && return 0
  for ip in $(hostname -i 2>/dev/null || true); do
    [ "$1" = "$ip:$SELF_PORT" ] && return 0
  done
  return 1
}

primary=$(ask_sentinels)
if [ -n "$primary" ] && is_self "$primary"; then
  echo "was the $REDIS_GROUP primary; waiting up to 10 s for the Sentinels to elect another"
  i=0
  while [ $i -lt 50 ]; do
    sleep 0.2
    now=$(ask_sentinels)
    if [ -n "$now" ] && ! is_self "$now"; then primary=$now; break; fi
    i=$((i + 1))
  done
fi
[ -n "$primary" ] || primary=$DEFAULT_PRIMARY

# The servers of a group rewrite their AOF at different growths (100%, 150%, 200% by the
# index ending their name), so all three never fork at once (aofRewritePercentage in
# packages/launcher/src/redis-config.ts).
index=${SELF_HOST##*-}
case $index in '' | *[!0-9]*) index=0 ;; esac
set -- redis-server /usr/local/etc/redis/redis.conf \
  --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" \
  --replica-announce-ip "$SELF_HOST" --replica-priority 0 \
  --auto-aof-rewrite-percentage $((100 + 50 * index))
if ! is_self "$primary"; then
  set -- "$@" --replicaof "${primary%:*}" "${primary##*:}"
fi
# The image's entrypoint drops root and owns /data for the redis user.
exec docker-entrypoint.sh "$@"
