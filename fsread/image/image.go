// Package image opens a disk image read-only and lays out what is in it:
// the container, the partition table, and each volume with its detected
// filesystem and whether snapscan can read it. Nothing here mounts, needs
// root, or writes: the image file is opened O_RDONLY and only ReadAt is used.
package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/partition"
)

// Image is an opened disk image.
type Image struct {
	Path      string
	Container string // raw, ...
	Size      int64  // virtual disk size in bytes
	Table     *partition.Table
	Volumes   []*Volume
	// Warnings are oddities an examiner should know (truncated image,
	// backup GPT used); they do not stop the scan.
	Warnings []string

	f    *os.File
	disk io.ReaderAt
	opts Options
}

// Options tune how an image is read.
type Options struct {
	// FS is passed to every filesystem reader (e.g. NoReplay for the
	// on-disk view of a volume with pending journal writes).
	FS fsread.OpenOptions
}

// Volume is one partition, or the whole disk when it is a bare filesystem.
type Volume struct {
	Index  int // partition number; 0 for a bare filesystem
	Name   string
	Start  int64
	Size   int64
	Part   *partition.Partition // nil for a bare filesystem
	Detect detect.Result
	// Scannable is true when snapscan has a reader for the content; when
	// false, Reason says why, in words for the report.
	Scannable bool
	Reason    string
	// HoldsVolumes is set on an LVM physical volume whose logical volumes
	// are listed as volumes of their own: it is read through them.
	HoldsVolumes bool

	img *Image
	r   io.ReaderAt
}

// Opener builds an FS over a volume's bytes. Registered per detected kind.
type Opener func(r io.ReaderAt, size int64, label string, opt fsread.OpenOptions) (fsread.FS, error)

var openers = map[detect.Kind]Opener{}

// Labeler reads a label the magic probe cannot see (NTFS keeps it in the
// $Volume file, not the boot sector).
type Labeler func(r io.ReaderAt, size int64) string

var labelers = map[detect.Kind]Labeler{}

// RegisterLabeler adds a label reader for a kind.
func RegisterLabeler(k detect.Kind, l Labeler) { labelers[k] = l }

// Register makes a filesystem kind readable. Called from init of the file
// that links each adapter in, so this package stays free of their imports.
func Register(k detect.Kind, o Opener) { openers[k] = o }

// Open opens path read-only and finds its volumes. An image whose container
// cannot be read is an error; a volume that cannot be read is not: it is
// listed with the reason.
func Open(path string) (*Image, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Image, error) {
	// Stat before open: opening a FIFO would block the scan.
	pre, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch m := pre.Mode(); {
	case m.IsDir():
		return nil, fmt.Errorf("%s: is a directory (use --dir to scan a directory tree)", path)
	case m&os.ModeNamedPipe != 0:
		return nil, fmt.Errorf("%s: a named pipe, not a disk image or block device", path)
	case m&os.ModeSocket != 0:
		return nil, fmt.Errorf("%s: a socket, not a disk image or block device", path)
	case m&os.ModeCharDevice != 0:
		return nil, fmt.Errorf("%s: a character device, not a disk image or block device", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // O_RDONLY: the image is evidence.
	if err != nil {
		return nil, err
	}
	size := pre.Size()
	if pre.Mode()&os.ModeDevice != 0 {
		// A block device (a write-blocked disk, a read-only loop or nbd
		// device) has no size in stat: its end is its size.
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: size of block device: %w", path, err)
		}
	}
	img := &Image{Path: path, f: f, Size: size, opts: opts}
	if err := img.openContainer(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if img.Size == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: empty file, not a disk image", path)
	}
	img.layout()
	img.addLogicalVolumes()
	return img, nil
}

// Close releases the image file.
func (img *Image) Close() error { return img.f.Close() }

// Disk returns the virtual disk as a ReaderAt (after the container).
func (img *Image) Disk() io.ReaderAt { return img.disk }

func (img *Image) baseName() string { return filepath.Base(img.Path) }

func (img *Image) layout() {
	// A bare filesystem first: an NTFS or FAT boot sector ends in 0x55AA and
	// would otherwise pass for an empty MBR.
	whole, _ := detect.Probe(img.disk, img.Size)
	if whole.Kind != detect.Unknown && whole.Kind != detect.Empty {
		img.addVolume(0, 0, img.Size, nil, whole)
		return
	}
	t, err := partition.Read(img.disk, img.Size)
	switch {
	case errors.Is(err, partition.ErrNoTable):
		v := img.addVolume(0, 0, img.Size, nil, whole)
		if whole.Kind == detect.Empty {
			v.Reason = "no partition table and no filesystem: the image is blank where they would be"
		} else {
			v.Reason = "no partition table and no filesystem signature recognised"
		}
		return
	case err != nil:
		img.Warnings = append(img.Warnings, "partition table unreadable: "+err.Error())
		v := img.addVolume(0, 0, img.Size, nil, whole)
		v.Reason = "partition table unreadable: " + err.Error()
		return
	}
	img.Table = t
	img.Warnings = append(img.Warnings, t.Warnings...)
	for i := range t.Partitions {
		p := &t.Partitions[i]
		res := detect.Result{Kind: detect.Unknown}
		if p.Size > 0 {
			res, err = detect.Probe(io.NewSectionReader(img.disk, p.Start, p.Size), p.Size)
			if err != nil {
				img.Warnings = append(img.Warnings, fmt.Sprintf("partition %d: %v", p.Index, err))
			}
		}
		v := img.addVolume(p.Index, p.Start, p.Size, p, res)
		if p.Size == 0 {
			v.Scannable, v.Reason = false, "partition lies outside the image (truncated image)"
		}
	}
}

func (img *Image) addVolume(idx int, start, size int64, p *partition.Partition, res detect.Result) *Volume {
	return img.addVolumeOn(io.NewSectionReader(img.disk, start, size), idx, start, size, p, res)
}

// addVolumeOn adds a volume whose bytes come from r (a section of the disk,
// or an LVM logical volume mapped over it).
func (img *Image) addVolumeOn(r io.ReaderAt, idx int, start, size int64, p *partition.Partition, res detect.Result) *Volume {
	v := &Volume{Index: idx, Start: start, Size: size, Part: p, Detect: res, img: img}
	v.Name = img.baseName()
	if p != nil {
		v.Name = fmt.Sprintf("%s@%d", img.baseName(), idx)
	}
	v.r = r
	if l := labelers[res.Kind]; l != nil && v.Detect.Label == "" {
		v.Detect.Label = safeLabel(l, v.r, size)
	}
	_, ok := openers[res.Kind]
	switch {
	case ok:
		v.Scannable = true
	case res.Kind.Encrypted():
		v.Reason = "encrypted (" + string(res.Kind) + "): no key, not scanned"
	case res.Kind == detect.Swap:
		v.Reason = "swap space: no files to scan"
	case res.Kind == detect.LVM2:
		v.Reason = "LVM2 physical volume"
	case res.Kind == detect.Empty:
		v.Reason = "blank (all zeros where a filesystem would start)"
	case res.Kind == detect.Unknown:
		v.Reason = "no known filesystem signature"
	default:
		v.Reason = "filesystem " + string(res.Kind) + " is recognised but not supported"
	}
	img.Volumes = append(img.Volumes, v)
	return v
}

// Reader returns the volume's bytes.
func (v *Volume) Reader() io.ReaderAt { return v.r }

// Label is the filesystem label, or the GPT partition name.
func (v *Volume) Label() string {
	if v.Detect.Label != "" {
		return v.Detect.Label
	}
	if v.Part != nil {
		return v.Part.Name
	}
	return ""
}

// FS opens the volume's filesystem.
func (v *Volume) FS() (fsread.FS, error) {
	if !v.Scannable {
		return nil, fmt.Errorf("%s: %s", v.Name, v.Reason)
	}
	label := fmt.Sprintf("%s (%s)", v.Name, v.Detect.Kind)
	fsys, err := safeOpen(openers[v.Detect.Kind], v.r, v.Size, label, v.img.opts.FS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return fsys, nil
}

func safeLabel(l Labeler, r io.ReaderAt, size int64) (label string) {
	defer func() {
		if recover() != nil {
			label = ""
		}
	}()
	return l(r, size)
}

func safeOpen(o Opener, r io.ReaderAt, size int64, label string, opt fsread.OpenOptions) (fsys fsread.FS, err error) {
	defer func() {
		if p := recover(); p != nil {
			fsys, err = nil, fmt.Errorf("%w: %v", fsread.ErrCorrupt, p)
		}
	}()
	return o(r, size, label, opt)
}

// Select finds a volume by what the user typed after '@': a partition
// number, a filesystem label, or a GPT partition name. With sel empty it
// picks the only scannable volume, or the one that looks like an OS root.
func (img *Image) Select(sel string) (*Volume, error) {
	if sel != "" {
		if n, err := strconv.Atoi(sel); err == nil {
			for _, v := range img.Volumes {
				if v.Index == n {
					return v, nil
				}
			}
			return nil, fmt.Errorf("%s: no volume %d (see `snapscan inspect %s`)", img.Path, n, img.Path)
		}
		for _, v := range img.Volumes {
			if v.Detect.Label == sel || (v.Part != nil && v.Part.Name == sel) || (v.LVMapperName() != "" && v.LVMapperName() == sel) {
				return v, nil
			}
		}
		return nil, fmt.Errorf("%s: no volume labelled %q (see `snapscan inspect %s`)", img.Path, sel, img.Path)
	}
	var scannable []*Volume
	for _, v := range img.Volumes {
		if v.Scannable {
			scannable = append(scannable, v)
		}
	}
	switch len(scannable) {
	case 0:
		return nil, fmt.Errorf("%s: no readable volume (see `snapscan inspect %s`)", img.Path, img.Path)
	case 1:
		return scannable[0], nil
	}
	for _, v := range scannable {
		fsys, err := v.FS()
		if err != nil {
			continue
		}
		if LooksLikeRoot(fsys) != "" {
			return v, nil
		}
	}
	best := scannable[0]
	for _, v := range scannable[1:] {
		if v.Size > best.Size {
			best = v
		}
	}
	return best, nil
}

// LooksLikeRoot names the OS whose root fsys is ("linux", "windows"), or "".
func LooksLikeRoot(fsys fsread.FS) string {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release", "etc/passwd"} {
		if fi, err := fsys.Stat(p); err == nil && !fi.IsDir() {
			return "linux"
		}
	}
	if fi, err := fsys.Stat("Windows/System32/config/SOFTWARE"); err == nil && !fi.IsDir() {
		return "windows"
	}
	return ""
}

// SplitAddress parses IMAGE[@VOLUME][:/PATH]. The image part is the longest
// prefix that names an existing file, so image names may contain '@' or ':'.
func SplitAddress(arg string) (imagePath, volume, inPath string, err error) {
	// Colons first, rightmost first: "img@root:/etc/x" must not be read as
	// volume "root:/etc/x". The whole argument (no path) is tried last.
	var cands []int
	for i := len(arg) - 1; i >= 0; i-- {
		if arg[i] == ':' {
			cands = append(cands, i)
		}
	}
	cands = append(cands, len(arg))
	for _, c := range cands {
		left, right := arg[:c], ""
		if c < len(arg) {
			right = arg[c+1:]
			if !strings.HasPrefix(right, "/") {
				continue
			}
		}
		if exists(left) {
			return left, "", cleanPath(right), nil
		}
		if at := strings.LastIndexByte(left, '@'); at > 0 && exists(left[:at]) {
			return left[:at], left[at+1:], cleanPath(right), nil
		}
	}
	return "", "", "", fmt.Errorf("%s: no such image (address is IMAGE[@VOLUME]:/PATH)", arg)
}

func cleanPath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "."
	}
	return filepath.ToSlash(filepath.Clean(p))
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
