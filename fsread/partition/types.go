package partition

import "strings"

// Names for the partition types an examiner meets on server images. The
// type only labels a partition; what it holds is detected from its content.
var gptTypeNames = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
	"44479540-F297-41B2-9AF7-D131D5F0458A": "Linux root (x86)",
	"B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM64)",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux /home",
	"3B8F8425-20E0-4F3B-907F-1A25A76F98E8": "Linux /srv",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery",
	"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3": "Windows LDM metadata",
	"AF9B60A0-1431-4F62-BC68-3311714A69AD": "Windows LDM data",
	"6A898CC3-1DD2-11B2-99A6-080020736631": "ZFS / Solaris /usr",
}

var mbrTypeNames = map[byte]string{
	0x01: "FAT12",
	0x04: "FAT16 <32M",
	0x05: "Extended",
	0x06: "FAT16",
	0x07: "HPFS/NTFS/exFAT",
	0x0b: "W95 FAT32",
	0x0c: "W95 FAT32 (LBA)",
	0x0e: "W95 FAT16 (LBA)",
	0x0f: "W95 Extended (LBA)",
	0x27: "Hidden NTFS WinRE",
	0x82: "Linux swap",
	0x83: "Linux",
	0x85: "Linux extended",
	0x8e: "Linux LVM",
	0xa5: "FreeBSD",
	0xee: "GPT protective",
	0xef: "EFI (FAT-12/16/32)",
	0xfd: "Linux raid autodetect",
}

// noFilesystem are the partition types that hold no filesystem by design:
// boot loader space, reserved gaps, containers of other partitions.
var noFilesystem = map[string]bool{
	"21686148-6449-6E6F-744E-656564454649": true,                             // BIOS boot
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": true,                             // Microsoft reserved
	"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3": true,                             // Windows LDM metadata
	"9E1A2D38-C612-4316-AA26-8B49521E5A8B": true,                             // PowerPC PReP boot
	"0x05":                                 true, "0x0f": true, "0x85": true, // extended partitions
	"0xee": true, // GPT protective
	"0x41": true, // PReP boot
}

// HoldsNoFilesystem reports whether p's type is one that holds no
// filesystem by design, so unrecognised content there is expected.
func (p *Partition) HoldsNoFilesystem() bool {
	return noFilesystem[strings.ToUpper(p.Type)] || noFilesystem[strings.ToLower(p.Type)]
}

// InTable reports whether p is an entry of an MBR or GPT table (an MBR id
// "0x83" or a GPT type GUID), rather than a volume another layer (LVM)
// describes with a Partition.
func (p *Partition) InTable() bool {
	return strings.HasPrefix(p.Type, "0x") || len(p.Type) == 36
}
