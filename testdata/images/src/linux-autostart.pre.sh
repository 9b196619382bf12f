#!/bin/bash
# Hook run by the image builder as: bash linux-autostart.pre.sh STAGEDIR (cwd = repo root), and by the scanner/linux
# tests on their copy of the tree. Puts in what git should not hold twice or cannot hold as text: the Redis dumps a
# real redis-server wrote (artifact/rdb/testdata, made by testdata/images/make-rdb.sh) as root's crontab and root's
# authorized_keys, and small ELF programs and shared objects built with gcc (a Redis module exporting
# RedisModule_OnLoad, the package's module twin, PAM modules, a "daemon" carrying a stratum URL, a benign server).
set -euo pipefail
stage=${1:?usage: linux-autostart.pre.sh STAGEDIR}
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rdb="$src/../../../artifact/rdb/testdata"
command -v gcc >/dev/null || { echo "linux-autostart.pre.sh: gcc is needed" >&2; exit 1; }
mkdir -p "$stage/var/spool/cron/crontabs" "$stage/root/.ssh" "$stage/tmp" "$stage/usr/lib/redis/modules" \
	"$stage/lib/x86_64-linux-gnu/security" "$stage/opt/nh" "$stage/opt/webapp"
mkdir -p "$stage/etc/cron.d"
cp "$rdb/attack.rdb" "$stage/etc/cron.d/root"
cp "$rdb/lzf.rdb" "$stage/var/spool/cron/crontabs/root"
cp "$rdb/lzf.rdb" "$stage/root/.ssh/authorized_keys"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/mod.c" <<'C'
int RedisModule_OnLoad(void *ctx, void **argv, int argc) { (void)ctx; (void)argv; return argc; }
const char *name = MODNAME;
C
gcc -O2 -s -shared -fPIC -DMODNAME='"system.exec"' -o "$stage/tmp/exp.so" "$work/mod.c"
gcc -O2 -s -shared -fPIC -DMODNAME='"bf"' -o "$stage/usr/lib/redis/modules/redisbloom.so" "$work/mod.c"
cat >"$work/pam.c" <<'C'
int pam_sm_authenticate(void *h, int f, int argc, const char **argv) { (void)h; (void)f; (void)argv; return argc; }
C
for m in pam_unix pam_deny pam_permit pam_exec pam_nologin; do
	gcc -O2 -s -shared -fPIC -o "$stage/lib/x86_64-linux-gnu/security/$m.so" "$work/pam.c"
done
gcc -O2 -s -o "$stage/opt/nh/nh-daemon" -DTAG='"stratum+tcp://pool.supportxmr.com:3333"' "$src/privesc-stub.c"
gcc -O2 -s -o "$stage/opt/webapp/server" -DTAG='"listening on %s"' "$src/privesc-stub.c"
