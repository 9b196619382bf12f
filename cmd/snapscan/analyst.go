package main

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
)

// The analyst commands: what The Sleuth Kit's mmls/fls/icat/istat give an
// examiner, over the same readers the scan uses.

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show an image's container, partition table, volumes and filesystems",
		Long: `Show what an image holds: the container, its size, the partition table, and for
each volume its offset, size, partition type and name, the filesystem detected
from its own signature (not from the partition type), label and UUID, and
whether snapscan can scan it, or why not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := image.OpenWith(args[0], imageOptions(cmd))
			if err != nil {
				return cannotRead(err)
			}
			defer img.Close()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), describeImage(img))
			}
			printImage(cmd.OutOrStdout(), img)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	addReplayFlag(cmd)
	return cmd
}

type volumeView struct {
	Volume     string `json:"volume"`
	Index      int    `json:"index"`
	Start      int64  `json:"start"`
	Size       int64  `json:"size"`
	Type       string `json:"partition_type,omitempty"`
	TypeName   string `json:"partition_type_name,omitempty"`
	Name       string `json:"partition_name,omitempty"`
	Filesystem string `json:"filesystem"`
	Label      string `json:"label,omitempty"`
	UUID       string `json:"uuid,omitempty"`
	Note       string `json:"note,omitempty"`
	Scannable  bool   `json:"scannable"`
	Reason     string `json:"reason,omitempty"`
	OS         string `json:"os,omitempty"`
	// Recovery is the journal/log state as this view reads it (replayed, or
	// dirty with --no-journal-replay).
	Recovery *fsread.Recovery `json:"recovery,omitempty"`
}

type imageView struct {
	Image     string       `json:"image"`
	Container string       `json:"container"`
	Size      int64        `json:"size"`
	Table     string       `json:"partition_table"`
	DiskGUID  string       `json:"disk_guid,omitempty"`
	Volumes   []volumeView `json:"volumes"`
	Warnings  []string     `json:"warnings,omitempty"`
}

func describeImage(img *image.Image) imageView {
	iv := imageView{Image: img.Path, Container: img.Container, Size: img.Size, Table: "none", Warnings: img.Warnings}
	if img.Table != nil {
		iv.Table, iv.DiskGUID = img.Table.Scheme, img.Table.DiskGUID
	}
	for _, v := range img.Volumes {
		vv := volumeView{
			Volume: v.Name, Index: v.Index, Start: v.Start, Size: v.Size,
			Filesystem: string(v.Detect.Kind), Label: v.Detect.Label, UUID: v.Detect.UUID, Note: v.Detect.Note,
			Scannable: v.Scannable, Reason: v.Reason,
		}
		if v.Part != nil {
			vv.Type, vv.TypeName, vv.Name = v.Part.Type, v.Part.TypeName, v.Part.Name
		}
		if v.Scannable {
			if fsys, err := v.FS(); err != nil {
				vv.Scannable, vv.Reason = false, err.Error()
			} else {
				vv.OS = image.LooksLikeRoot(fsys)
				if rc := fsread.RecoveryOf(fsys); rc.State != fsread.RecoveryNone && rc.State != "" {
					vv.Recovery = &rc
				}
			}
		}
		iv.Volumes = append(iv.Volumes, vv)
	}
	return iv
}

func printImage(w io.Writer, img *image.Image) {
	iv := describeImage(img)
	fmt.Fprintf(w, "Image:      %s\n", iv.Image)
	fmt.Fprintf(w, "Container:  %s\n", iv.Container)
	fmt.Fprintf(w, "Size:       %d bytes (%s)\n", iv.Size, humanBytes(iv.Size))
	table := iv.Table
	if iv.DiskGUID != "" {
		table += " (disk GUID " + iv.DiskGUID + ")"
	}
	fmt.Fprintf(w, "Partitions: %s\n\n", table)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VOLUME\tSTART\tSIZE\tPART TYPE\tPART NAME\tFS\tLABEL\tUUID\tSTATUS")
	for _, v := range iv.Volumes {
		status := "scannable"
		if v.OS != "" {
			status += " (" + v.OS + " root)"
		}
		if !v.Scannable {
			status = "not scanned: " + v.Reason
		}
		if v.Recovery != nil {
			status += "; journal " + v.Recovery.String()
		}
		typ := v.TypeName
		if typ == "" {
			typ = v.Type
		}
		fs := v.Filesystem
		if v.Note != "" {
			fs += " (" + v.Note + ")"
		}
		p := report.Printable
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			"@"+fmt.Sprint(v.Index), v.Start, humanBytes(v.Size), dash(typ), dash(p(v.Name)), fs, dash(p(v.Label)), dash(p(v.UUID)), p(status))
	}
	tw.Flush()
	for _, warn := range iv.Warnings {
		fmt.Fprintf(w, "warning: %s\n", report.Printable(warn))
	}
}

// openAddress resolves IMAGE[@VOLUME]:/PATH to a filesystem and a path in it.
func openAddress(cmd *cobra.Command, arg string) (*image.Image, fsread.FS, string, error) {
	imgPath, sel, p, err := image.SplitAddress(arg)
	if err != nil {
		return nil, nil, "", err
	}
	img, err := image.OpenWith(imgPath, imageOptions(cmd))
	if err != nil {
		return nil, nil, "", err
	}
	v, err := img.Select(sel)
	if err != nil {
		img.Close()
		return nil, nil, "", err
	}
	// Without an explicit volume, a Linux root is shown as its OS saw it:
	// with /home, /var, ... mounted from the volumes its fstab names.
	var fsys fsread.FS
	if sel == "" {
		fsys, _, err = scanner.ComposedRoot(img, v)
	} else {
		fsys, err = v.FS()
	}
	if err != nil {
		img.Close()
		return nil, nil, "", err
	}
	return img, fsys, p, nil
}

func newLsCmd() *cobra.Command {
	var long, recursive bool
	cmd := &cobra.Command{
		Use:   "ls [-l] [-r] IMAGE[@VOLUME]:/PATH",
		Short: "List a directory inside an image",
		Long: `List a directory inside an image, like ls. With -l each entry shows inode (or MFT
entry), mode, owner, size, modification time (UTC), ext4 anti-removal flags
(immutable, append-only) and symlink targets; with -r the listing recurses
(never through symbolic links).

` + addressHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, fsys, p, err := openAddress(cmd, args[0])
			if err != nil {
				return cannotRead(err)
			}
			defer img.Close()
			w := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
			show := func(name string, info fs.FileInfo) {
				name = report.Printable(name)
				if !long {
					fmt.Fprintln(w, name)
					return
				}
				m := fsread.MetaOf(info)
				owner := "-\t-"
				if m.HasOwner {
					owner = fmt.Sprintf("%d\t%d", m.UID, m.GID)
				}
				flags := strings.Join(m.FlagNames(), ",")
				line := fmt.Sprintf("%d\t%s\t%s\t%d\t%s\t%s\t", m.Inode, fsread.ModeString(m.Mode), owner, m.Size, fmtTime(m.Mtime), dash(flags))
				fmt.Fprintf(tw, "%s%s", line, name)
				if m.LinkTarget != "" {
					fmt.Fprintf(tw, " -> %s", report.Printable(m.LinkTarget))
				}
				fmt.Fprintln(tw)
			}
			// NTFS alternate data streams follow their file as FILE:STREAM.
			showStreams := func(name, full string, info fs.FileInfo) {
				for _, s := range fileStreams(fsys, full) {
					if !info.Mode().IsRegular() {
						break
					}
					if long {
						fmt.Fprintf(tw, "-\t-\t-\t-\t%d\t-\t-\t%s:%s\n", s.Size, name, report.Printable(s.Name))
					} else {
						fmt.Fprintln(w, name+":"+report.Printable(s.Name))
					}
				}
			}
			var walkErrs int
			if recursive {
				err = fsread.Walk(fsys, p, func(name string, d fs.DirEntry, err error) error {
					if err != nil {
						walkErrs++
						fmt.Fprintln(os.Stderr, "snapscan:", err)
						return nil
					}
					if name == p {
						return nil
					}
					info, err := d.Info()
					if err != nil {
						walkErrs++
						fmt.Fprintln(os.Stderr, "snapscan:", err)
						return nil
					}
					show("/"+strings.TrimPrefix(name, "./"), info)
					showStreams("/"+strings.TrimPrefix(name, "./"), name, info)
					return nil
				})
			} else {
				var info fs.FileInfo
				info, err = fsys.Stat(p)
				if err == nil && !info.IsDir() {
					li, _ := fsys.Lstat(p)
					show(path.Base(p), li)
					showStreams(path.Base(p), p, li)
				} else if err == nil {
					var ents []fs.DirEntry
					ents, err = fsys.ReadDir(p)
					for _, e := range ents {
						info, ierr := e.Info()
						if ierr != nil {
							walkErrs++
							fmt.Fprintln(os.Stderr, "snapscan:", ierr)
							continue
						}
						show(e.Name(), info)
						showStreams(e.Name(), path.Join(p, e.Name()), info)
					}
				}
			}
			tw.Flush()
			if err != nil {
				return cannotRead(err)
			}
			if walkErrs > 0 {
				return cannotRead(fmt.Errorf("%d entries could not be read", walkErrs))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "long listing: inode, mode, uid, gid, size, mtime, flags")
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "list subdirectories recursively")
	addReplayFlag(cmd)
	return cmd
}

func newCatCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cat IMAGE[@VOLUME]:/PATH",
		Short: "Write a file from inside an image to standard output",
		Long: `Write a file's content from inside an image to standard output, streaming (a
file of any size is copied through a small buffer). Sparse holes read as zeros.
On NTFS, PATH:STREAM writes the file's alternate data stream STREAM (ls lists
them as FILE:STREAM).

` + addressHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, fsys, p, err := openAddress(cmd, args[0])
			if err != nil {
				return cannotRead(err)
			}
			defer img.Close()
			f, err := openFileOrStream(fsys, p)
			if err != nil {
				return cannotRead(err)
			}
			defer f.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), f); err != nil {
				return cannotRead(err)
			}
			return nil
		},
	}
	addReplayFlag(cmd)
	return cmd
}

type statView struct {
	Path       string     `json:"path"`
	Volume     string     `json:"volume"`
	Inode      uint64     `json:"inode"`
	Type       string     `json:"type"`
	Mode       string     `json:"mode"`
	UID        *uint32    `json:"uid,omitempty"`
	GID        *uint32    `json:"gid,omitempty"`
	Nlink      uint32     `json:"nlink,omitempty"`
	Size       int64      `json:"size"`
	Mtime      *time.Time `json:"mtime,omitempty"`
	Atime      *time.Time `json:"atime,omitempty"`
	Ctime      *time.Time `json:"ctime,omitempty"`
	Btime      *time.Time `json:"btime,omitempty"`
	Flags      string     `json:"flags"`
	Attributes string     `json:"ntfs_attributes,omitempty"`
	LinkTarget string     `json:"link_target,omitempty"`
	MD5        string     `json:"md5,omitempty"`
	SHA1       string     `json:"sha1,omitempty"`
	SHA256     string     `json:"sha256,omitempty"`
}

func newStatCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stat IMAGE[@VOLUME]:/PATH",
		Short: "Show every time stamp, owner, mode, flag and hash of a file inside an image",
		Long: `Show the forensic metadata of one entry inside an image: inode or MFT entry,
type, mode, owner, link count, size, modify/access/change/birth times (UTC,
nanoseconds where the filesystem keeps them), ext4 flags (raw value and
immutable/append-only), NTFS attributes, symlink target, and for regular files
MD5, SHA-1 and SHA-256 of the content. The path itself is not followed if it is
a symbolic link.

` + addressHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, fsys, p, err := openAddress(cmd, args[0])
			if err != nil {
				return cannotRead(err)
			}
			defer img.Close()
			info, err := fsys.Lstat(p)
			if err != nil {
				return cannotRead(err)
			}
			m := fsread.MetaOf(info)
			sv := statView{
				Path: "/" + strings.TrimPrefix(p, "."), Volume: fsys.String(), Inode: m.Inode, Type: typeName(m.Mode),
				Mode: fsread.ModeString(m.Mode), Nlink: m.Nlink, Size: m.Size,
				Mtime: tptr(m.Mtime), Atime: tptr(m.Atime), Ctime: tptr(m.Ctime), Btime: tptr(m.Btime),
				Flags: fmt.Sprintf("0x%x", m.Flags), LinkTarget: m.LinkTarget,
			}
			if names := m.FlagNames(); len(names) > 0 {
				sv.Flags += " (" + strings.Join(names, ", ") + ")"
			}
			if m.Attributes != 0 {
				sv.Attributes = fmt.Sprintf("0x%x", m.Attributes)
			}
			if m.HasOwner {
				uid, gid := m.UID, m.GID
				sv.UID, sv.GID = &uid, &gid
			}
			if m.Mode.IsRegular() {
				f, err := fsys.Open(p)
				if err != nil {
					return cannotRead(err)
				}
				defer f.Close()
				h5, h1, h256 := md5.New(), sha1.New(), sha256.New()
				if _, err := io.Copy(io.MultiWriter(h5, h1, h256), f); err != nil {
					return cannotRead(err)
				}
				sv.MD5, sv.SHA1, sv.SHA256 = hex.EncodeToString(h5.Sum(nil)), hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil))
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), sv)
			}
			printStat(cmd.OutOrStdout(), sv)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	addReplayFlag(cmd)
	return cmd
}

func printStat(w io.Writer, s statView) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, report.Printable(v))
		}
	}
	row("Path", s.Path)
	row("Volume", s.Volume)
	row("Inode", fmt.Sprint(s.Inode))
	row("Type", s.Type)
	row("Mode", s.Mode)
	if s.UID != nil {
		row("Owner", fmt.Sprintf("uid %d, gid %d", *s.UID, *s.GID))
	} else {
		row("Owner", "(not recorded by this filesystem)")
	}
	row("Links", fmt.Sprint(s.Nlink))
	row("Size", fmt.Sprint(s.Size))
	for _, t := range []struct {
		k string
		v *time.Time
	}{{"Modified", s.Mtime}, {"Accessed", s.Atime}, {"Changed", s.Ctime}, {"Born", s.Btime}} {
		if t.v != nil {
			row(t.k, t.v.Format(time.RFC3339Nano))
		} else {
			row(t.k, "(not recorded)")
		}
	}
	row("Flags", s.Flags)
	row("NTFS attributes", s.Attributes)
	row("Link target", s.LinkTarget)
	row("MD5", s.MD5)
	row("SHA-1", s.SHA1)
	row("SHA-256", s.SHA256)
	tw.Flush()
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "regular file"
}

func tptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// addReplayFlag adds --no-journal-replay, for every command that opens an
// image.
func addReplayFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("no-journal-replay", false, "show the on-disk view: do not apply the writes pending in an ext4 journal, XFS log or hive transaction log (such a volume is then reported dirty and a scan is incomplete)")
}

// imageOptions are the image.Options the command's flags ask for.
func imageOptions(cmd *cobra.Command) image.Options {
	noReplay, _ := cmd.Flags().GetBool("no-journal-replay")
	return image.Options{FS: fsread.OpenOptions{NoReplay: noReplay}}
}
