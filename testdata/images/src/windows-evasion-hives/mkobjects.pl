#!/usr/bin/perl
# Appends one 8 KiB page to a WMI CIM repository's OBJECTS.DATA, holding instance records the way flare-wmi and
# PyWMIPersistenceFinder describe them: class name, NULs and binary header bytes, then NUL-separated ASCII property
# strings; a __FilterToConsumerBinding holds its two references as object paths. No public data set carries a real
# OBJECTS.DATA, so the test repository is made of such pages (the wmi check reads it by content, not by structure).
# usage: mkobjects.pl OBJECTS.DATA 'Class|string|string...' ...
use strict;
use warnings;

my $out = shift or die "usage: $0 OBJECTS.DATA RECORD...\n";
my $page = "\0" x 64;
for my $rec (@ARGV) {
	my ($class, @strings) = split /\|/, $rec;
	$page .= $class . "\0\0" . pack('C*', 0x01, 0x07, 0xff, 0x00, 0x10, 0x00) . join('', map { $_ . "\0\0" } @strings) . "\0" x 97;
}
die "$out: records exceed one page\n" if length($page) > 8192;
$page .= "\0" x (8192 - length($page));
open(my $fh, '>>:raw', $out) or die "$out: $!\n";
print $fh $page;
close $fh or die "$out: $!\n";
