#!/usr/bin/perl
# Writes an empty registry hive (base block + one bin holding a root key and
# its security cell) to $ARGV[0], for hivexregedit --merge to fill.
#
# Why this exists: hivex cannot create a hive from nothing; its documentation
# says to start from the "minimal" hive in its source tree, which Debian's
# packages do not ship. The layout follows the regf format documentation
# (github.com/msuhanov/regf, "Windows registry file format specification").
# Everything with content is then written by hivex itself.
use strict;
use warnings;

my $out = shift or die "usage: $0 OUT [ROOTNAME]\n";
my $rootname = shift // 'ROOT';
my $bin_size = 0x1000;
my $ft = pack('Q<', 133000000000000000);    # 2022-06-18, fixed so the file is reproducible

# Cells are offsets relative to the first bin (file offset 0x1000).
my $nk_off = 0x20;
my $nk = 'nk' . pack('v', 0x2c)                  # KEY_HIVE_ENTRY|KEY_NO_DELETE|KEY_COMP_NAME
  . $ft . pack('V', 0)                            # last write, access bits
  . pack('V', 0xffffffff)                         # parent: none
  . pack('V V', 0, 0)                             # subkey counts (stable, volatile)
  . pack('V V', 0xffffffff, 0xffffffff)           # subkey lists
  . pack('V V', 0, 0xffffffff)                    # value count, value list
  . pack('V', 0)                                  # security cell: patched below
  . pack('V', 0xffffffff)                         # class name
  . pack('V V V V', 0, 0, 0, 0)                   # largest subkey name/class, value name/data
  . pack('V', 0)                                  # workvar
  . pack('v v', length($rootname), 0)
  . $rootname;
my $nk_cell_len = (4 + length($nk) + 7) & ~7;
my $sk_off = $nk_off + $nk_cell_len;
substr($nk, 0x2c, 4) = pack('V', $sk_off);
my $nk_cell = pack('l<', -$nk_cell_len) . $nk . ("\0" x ($nk_cell_len - 4 - length($nk)));

# Self-relative security descriptor: owner and group BUILTIN\Administrators,
# a DACL granting it full control.
my $sid = pack('C C', 1, 2) . pack('N n', 0, 5) . pack('V V', 32, 544);
my $ace = pack('C C v V', 0, 0, 8 + length($sid), 0x10000000) . $sid;
my $acl = pack('C C v v v', 2, 0, 8 + length($ace), 1, 0) . $ace;
my $sd_hdr = 20;
my $sd = pack('C C v V V V V', 1, 0, 0x8004, $sd_hdr + length($acl), $sd_hdr + length($acl) + length($sid), 0, $sd_hdr)
  . $acl . $sid . $sid;
my $sk = 'sk' . pack('v', 0) . pack('V V', $sk_off, $sk_off) . pack('V', 1) . pack('V', length($sd)) . $sd;
my $sk_cell_len = (4 + length($sk) + 7) & ~7;
my $sk_cell = pack('l<', -$sk_cell_len) . $sk . ("\0" x ($sk_cell_len - 4 - length($sk)));

my $used = 0x20 + $nk_cell_len + $sk_cell_len;
my $free = pack('l<', $bin_size - $used) . ("\0" x ($bin_size - $used - 4));
my $hbin = 'hbin' . pack('V V', 0, $bin_size) . ("\0" x 8) . $ft . pack('V', 0) . $nk_cell . $sk_cell . $free;

my $name16 = substr(join('', map { pack('v', ord) } split //, "\\REGISTRY\\SNAPSCAN\\$rootname"), 0, 64);
my $base = 'regf' . pack('V V', 1, 1) . $ft . pack('V V V V', 1, 3, 0, 1) . pack('V V V', $nk_off, $bin_size, 1)
  . $name16 . ("\0" x (64 - length($name16)));
$base .= "\0" x (508 - length($base));
my $sum = 0;
$sum ^= $_ for unpack('V127', $base);
$sum = 1 if $sum == 0;
$sum = 0xfffffffe if $sum == 0xffffffff;
$base .= pack('V', $sum);
$base .= "\0" x (0x1000 - length($base));

open(my $fh, '>:raw', $out) or die "$out: $!\n";
print $fh $base, $hbin;
close($fh) or die "$out: $!\n";
