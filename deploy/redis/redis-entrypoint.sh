#!/bin/sh
# Starts one Redis server of an HA group in the role the Sentinels say it has now.
#
# A server that was the primary and restarts from its own config would run as a second
# primary for ~10 s before Sentinel demotes it, taking writes that are then lost. So it
# asks the Sentinels first (the latest record a majority of them gives): if they name
# another server, it starts as that one's replica; if they still name this server (it just
# died), it waits for them to elect another.
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

# One Sentinel's record of the group, "<config epoch> <0 mid-failover, else 1> <host:port>",
# or nothing when it does not answer.
sentinel_record() {
  redis-cli -h "${1%:*}" -p "${1##*:}" -a "$REDIS_PASSWORD" --no-auth-warning --raw \
    SENTINEL master "$REDIS_GROUP" 2>/dev/null |
    awk 'NR % 2 == 1 { k = $0; next } { v[k] = $0 }
      END { if (v["ip"] != "" && v["port"] != "") print v["config-epoch"] + 0, (v["flags"] ~ /failover_in_progress/ ? 0 : 1), v["ip"] ":" v["port"] }' || true
}

# "<answered> <asked> [<primary>]": the latest record among the Sentinels' answers, named
# only when a majority answered. A higher config epoch is later; at the same epoch, the
# failover's leader shows the old address until it has reconfigured every replica
# (failover_in_progress), while the others already show the promoted one. The launcher
# follows the same rule (packages/common/src/replication/one-shot.ts, latestOfMajority).
agreed_primary() {
  records=""
  asked=0
  for s in $SENTINELS; do
    asked=$((asked + 1))
    r=$(sentinel_record "$s")
    [ -z "$r" ] || records="$records$r
"
  done
  answered=$(printf '%s' "$records" | grep -c . || true)
  if [ $((answered * 2)) -gt "$asked" ]; then
    echo "$answered $asked $(printf '%s' "$records" | sort -k1,1nr -k2,2nr | head -n 1 | cut -d' ' -f3)"
  else
    echo "$answered $asked"
  fi
}

is_self() {
  [ "$1" = "$SELF_HOST:$SELF_PORT" ] && return 0
  for ip in $(hostname -i 2>/dev/null || true); do
    [ "$1" = "$ip:$SELF_PORT" ] && return 0
  done
  return 1
}

# Up to 10 s for the Sentinels while only a minority of them answers, or while they still
# name this server (it just died: they are electing another). None answering at first is
# the first start of the whole deployment.
primary=""
i=0
while :; do
  set -- $(agreed_primary)
  primary=${3:-$primary}
  if [ $i -eq 0 ] && [ "$1" -eq 0 ]; then break; fi
  if [ -n "$primary" ] && ! is_self "$primary"; then break; fi
  if [ $i -ge 50 ]; then break; fi
  if [ $i -eq 0 ]; then
    if [ -n "$primary" ]; then
      echo "was the $REDIS_GROUP primary; waiting up to 10 s for the Sentinels to elect another"
    else
      echo "only $1 of $2 Sentinels answer; waiting up to 10 s for a majority"
    fi
  fi
  sleep 0.2
  i=$((i + 1))
done
[ -n "$primary" ] || primary=$DEFAULT_PRIMARY

# A replica copies its primary whole: Redis 7 keeps no replication id in an AOF, so every
# restart as a replica ends in a full resync that throws the loaded data away. Loading it
# first only delays the copy, while the group's writes may wait for this server (a killed
# primary stays in its promotable set). Moved aside, replacing the previous copy, not deleted.
if ! is_self "$primary" && [ -e /data/appendonlydir ]; then
  rm -rf /data/appendonlydir.before-resync
  mv /data/appendonlydir /data/appendonlydir.before-resync
  echo "starting as a replica of $primary: the own AOF is kept in /data/appendonlydir.before-resync"
fi

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
