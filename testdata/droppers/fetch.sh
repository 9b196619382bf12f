#!/usr/bin/env bash
# Fetches the droppers of SOURCES.tsv that have a repository path into $SNAPSCAN_DROPPERS (default
# /var/cache/snapscan-test/droppers/real), from GitHub's raw host. The rows without one were read through a code
# search and have to be placed there by hand. Then the installers of BENIGN.tsv. Needs network; nothing here runs them.
set -euo pipefail
dir=${SNAPSCAN_DROPPERS:-/var/cache/snapscan-test/droppers/real}
mkdir -p "$dir"
grep -v '^#' "$(dirname "$0")/SOURCES.tsv" | while IFS=$'\t' read -r file repo path _; do
	[[ $path == - || $repo == \(* ]] && { echo "skip $file (no repository path)"; continue; }
	for branch in main master; do
		curl -fsSL "https://raw.githubusercontent.com/$repo/$branch/$path" -o "$dir/$file" && break
	done
	echo "$file: $(wc -c <"$dir/$file") bytes"
done

# The benign side: the installers of BENIGN.tsv, each at its pinned commit.
bdir=${SNAPSCAN_INSTALLERS:-/var/cache/snapscan-test/droppers/benign}
mkdir -p "$bdir"
grep -v '^#' "$(dirname "$0")/BENIGN.tsv" | while IFS=$'\t' read -r file repo commit path _; do
	curl -fsSL "https://raw.githubusercontent.com/$repo/$commit/$path" -o "$bdir/$file"
	echo "$file: $(wc -c <"$bdir/$file") bytes"
done
