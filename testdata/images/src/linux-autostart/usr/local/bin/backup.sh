#!/bin/sh
set -e
tar czf /var/backups/etc-$(date +%F).tgz /etc
find /var/backups -name 'etc-*.tgz' -mtime +14 -delete
