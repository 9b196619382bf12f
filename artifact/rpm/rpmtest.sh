#!/usr/bin/env bash
# Builds a real rpm database for the tests: rpmbuild makes a package "hello"
# (an ELF /usr/bin/hello, %config /etc/hello.conf), rpm --initdb and
# rpm -i --justdb record it in ROOT/var/lib/rpm (rpmdb.sqlite with rpm >= 4.16),
# and the package's files are unpacked into ROOT with rpm2cpio | cpio.
# Usage: rpmtest.sh WORKDIR ROOT
set -euo pipefail
work=$1 root=$2
mkdir -p "$work/src" "$work/top" "$root/var/lib/rpm"
printf '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n' >"$work/src/hello.c"
gcc -o "$work/src/hello" "$work/src/hello.c"
cat >"$work/hello.spec" <<'SPEC'
%define debug_package %{nil}
%global __os_install_post %{nil}
Name: hello
Version: 1.0
Release: 1
Summary: snapscan test package
License: MIT
%description
A test package for snapscan's rpm reader.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc
cp %{_sourcedir}/hello %{buildroot}/usr/bin/hello
echo "greeting=hi" >%{buildroot}/etc/hello.conf
%files
/usr/bin/hello
%config /etc/hello.conf
SPEC
rpmbuild --quiet --define "_topdir $work/top" --define "_sourcedir $work/src" -bb "$work/hello.spec" >/dev/null 2>&1
rpmfile=$(find "$work/top/RPMS" -name '*.rpm' | head -1)
rpm --initdb --dbpath "$root/var/lib/rpm"
rpm -i --justdb --nodeps --noscripts --notriggers --ignorearch --ignoreos --dbpath "$root/var/lib/rpm" "$rpmfile"
(cd "$root" && rpm2cpio "$rpmfile" | cpio -idm --quiet)
