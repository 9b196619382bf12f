// Command snapscan scans disk images of servers, offline and read-only, for
// the ways cryptominers persist, and reports what it finds. It only detects:
// it never changes the image and never remediates.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes shared by every command; `snapscan scan` documents its own
// policy on top (see scan.go and docs/exit-codes.md).
const (
	exitOK         = 0
	exitFindings   = 1 // scan: findings at or above --exit-code's threshold
	exitUsage      = 2
	exitCannotRead = 3 // the image, volume or path could not be read
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func cannotRead(err error) error { return &exitError{exitCannotRead, err} }

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
	os.Exit(exitUsage)
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

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "snapscan",
		Short: "Offline, read-only scanner of disk images for cryptominer persistence",
		Long: `snapscan examines disk images (snapshots exported from cloud providers, golden
images, retained evidence) without mounting them and without root. It reads
partition tables and ext2/3/4 and NTFS filesystems itself, looks in every place
where cryptominers persist (cron, systemd, rc scripts, ld.so.preload, SSH keys,
accounts, immutable files, replaced commands, hosts; on Windows Run keys,
services, scheduled tasks) and reports what it finds with the evidence an
analyst needs. It only detects: the image is never written and nothing is
remediated.

` + addressHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{exitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newInspectCmd(), newLsCmd(), newCatCmd(), newStatCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	return root
}

// extraCommands lets each command file register itself.
var extraCommands []func() *cobra.Command
