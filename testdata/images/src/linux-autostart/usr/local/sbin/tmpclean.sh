#!/bin/sh
find /tmp -type f -mtime +7 -delete
