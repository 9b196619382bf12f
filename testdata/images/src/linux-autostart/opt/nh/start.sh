#!/bin/bash
cd /opt/nh
exec ./nh-daemon --quiet
