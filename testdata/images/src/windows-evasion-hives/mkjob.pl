#!/usr/bin/perl
# Writes a Task Scheduler 1.0 .job file ([MS-TSCH] 2.4: fixed-length section, then the variable-length section) the
# way at.exe / NetScheduleJobAdd lay it out, with one trigger.
# usage: mkjob.pl OUT APPLICATION PARAMETERS AUTHOR TRIGGER-TYPE(6 = at boot, 7 = at logon) FLAGS(hex)
use strict;
use warnings;

my ($out, $app, $params, $author, $ttype, $flags) = @ARGV;
die "usage: $0 OUT APP PARAMS AUTHOR TRIGGERTYPE FLAGS\n" unless defined $flags;
sub ustr { my $s = shift; return pack('v', 0) if $s eq ''; my @c = (unpack('U*', $s), 0); return pack('v', scalar @c) . pack('v*', @c) }
my $var = pack('v', 0)                                 # running instance count
  . ustr($app) . ustr($params) . ustr('') . ustr($author) . ustr('')
  . pack('v', 0) . pack('v', 0);                      # user data, reserved data
my $trigoff = 0x44 + length($var);
my $fixed = pack('v v', 0x0a00, 1) . pack('H32', '00112233445566778899aabbccddeeff')
  . pack('v v', 0x46, $trigoff) . pack('v v v v', 0, 0, 0x3c, 0x0a)
  . pack('V V V V V', 0x20, 0x00015180 * 1000 & 0xffffffff, 0, 0x00041300, hex($flags))
  . pack('v8', 0, 0, 0, 0, 0, 0, 0, 0);             # never run
my $trigger = pack('v10 V4 v6', 0x30, 0, 2024, 1, 2, 0, 0, 0, 3, 0, 0, 0, 0, $ttype, 0, 0, 0, 0, 0, 0);    # 48 bytes
open(my $fh, '>:raw', $out) or die "$out: $!\n";
print $fh $fixed . $var . pack('v', 1) . $trigger;
close $fh or die "$out: $!\n";
