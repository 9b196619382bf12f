// Command snapscan scans disk images of servers, offline and read-only, for
// the ways cryptominers persist, and reports what it finds. It only detects:
// it never changes the image and never remediates.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/report"
)

// version and commit are set at build time with -ldflags "-X main.version=...
// -X main.commit=..."; `go install` builds fall back to debug.ReadBuildInfo
// (version.go).
var (
	version = "dev"
	commit  = ""
)

// The exit codes are report.ExitCodes, one table for every command
// (docs/exit-codes.md).

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func cannotRead(err error) error { return &exitError{report.ExitIncomplete, err} }

func main() {
	root := newRoot()
	err := root.Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errSilent) {
			fmt.Fprintln(os.Stderr, "snapscan:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "snapscan:", err)
	os.Exit(report.ExitUsage)
}

// errSilent marks an exit whose message was already printed (a report).
var errSilent = errors.New("")

const addressHelp = `Addressing files inside an image:

  IMAGE[@VOLUME]:/PATH

  IMAGE   a disk image file (raw disk, or a bare filesystem)
  VOLUME  a partition number as 'snapscan inspect' lists it, a filesystem
          label, or a GPT partition name; when omitted, the only readable
          volume, or the one that holds an OS root (/etc/os-release,
          Windows\System32\config\SOFTWARE); a Linux root is then shown
          with the volumes its /etc/fstab mounts (/home, /var, ...)
  PATH    an absolute path inside that filesystem; symbolic links resolve
          inside the image, never on the host

Examples:
  snapscan ls -l disk.img:/etc
  snapscan cat disk.img@2:/etc/crontab
  snapscan stat disk.img@rootfs:/usr/bin/ps`

// supportedHelp names everything snapscan reads itself. Keep it in step
// with fsread/container, fsread/partition, fsread/lvm and the readers
// registered in fsread/image (TestRootHelpNamesFormats).
const supportedHelp = `What snapscan reads itself (no mount, no root, no write):

  containers        raw (files and block devices), QCOW2 v2/v3 (zlib/zstd
                    clusters), VHD fixed and dynamic, VHDX, VMDK
                    monolithicSparse and streamOptimized
  partition tables  GPT (512 and 4096-byte sectors, backup header), MBR with
                    extended/logical partitions, or none (a bare filesystem)
  volume managers   LVM2 linear and striped logical volumes (IMAGE@VG/LV)
  filesystems       ext2, ext3, ext4, XFS v4/v5, NTFS
  listed, not read  FAT/exFAT, Btrfs, squashfs, ISO 9660, swap, LUKS,
                    BitLocker, md RAID; QCOW2 backing files, differencing
                    VHD/VHDX, split VMDK, VDI, E01 (refused with a hint)`

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "snapscan",
		Short: "Offline, read-only scanner of disk images for cryptominer persistence",
		Long: `snapscan examines disk images (snapshots exported from cloud providers, golden
images, retained evidence) without mounting them and without root. It reads
containers, partition tables, LVM and ext2/3/4, XFS and NTFS filesystems
itself, looks in every place where cryptominers persist (cron, systemd, rc
scripts, ld.so.preload, SSH keys, accounts, immutable files, replaced
commands, hosts; on Windows Run keys, services, scheduled tasks), sweeps file
contents with YARA and IOC lists, and reports what it finds with the evidence
an analyst needs. It only detects: the image is never written and nothing is
remediated.

` + supportedHelp + `

Exit codes (every command; docs/exit-codes.md):
` + report.ExitCodeHelp() + `

Configuration: every flag can also be set in snapscan.yaml (in the current
directory, or --config FILE) and as SNAPSCAN_<FLAG> in the environment
(--fail-on is SNAPSCAN_FAIL_ON); a flag on the command line wins over the
environment, which wins over the file.

` + addressHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyConfig(cmd)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().String("config", "", "read flag values from this YAML file (default: ./snapscan.yaml when present)")
	root.PersistentFlags().BoolP("quiet", "q", false, "no progress bar and no informational messages on standard error; what changes the verdict is still said, one line each")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{report.ExitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newInspectCmd(), newLsCmd(), newCatCmd(), newStatCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	return root
}

// extraCommands lets each command file register itself.
var extraCommands []func() *cobra.Command
