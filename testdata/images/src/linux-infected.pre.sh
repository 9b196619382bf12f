#!/bin/bash
# Hook run by the image builder as: bash linux-infected.pre.sh STAGEDIR
# Compiles the harmless stand-in miner (fakeminer.c, written for the YARA rules) into an innocuous path, so
# the content sweep has a real ELF to find that no name-based check would.
set -euo pipefail
stage=${1:?usage: linux-infected.pre.sh STAGEDIR}
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fakeminer.c"
if [[ ! -f $src ]]; then
	echo "linux-infected.pre.sh: $src not written yet; skipping the compiled miner" >&2
	exit 0
fi
if ! command -v gcc >/dev/null; then
	echo "linux-infected.pre.sh: gcc missing; skipping the compiled miner" >&2
	exit 0
fi
mkdir -p "$stage/usr/local/lib/.cache"
gcc -O2 -s -o "$stage/usr/local/lib/.cache/kworkerd" "$src"
chmod 0755 "$stage/usr/local/lib/.cache/kworkerd"
