package scanner

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
)

// openVolume is a volume whose filesystem opened.
type openVolume struct {
	vol  *image.Volume
	fsys fsread.FS
	os   string // "linux", "windows" or "" when not an OS root
}

// fstabEntry is one line of /etc/fstab that mounts a block device.
type fstabEntry struct {
	Spec, MountPoint, Type string
	Line                   int
}

// parseFstab keeps the entries that could name another volume of the same
// image; pseudo filesystems, swap and network mounts are not volumes.
func parseFstab(data []byte) []fstabEntry {
	var out []fstabEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp, typ := unescapeFstab(f[1]), f[2]
		switch typ {
		case "swap", "proc", "sysfs", "tmpfs", "devpts", "nfs", "nfs4", "cifs", "none", "devtmpfs", "cgroup", "cgroup2", "debugfs", "securityfs", "fuse", "fuse.sshfs", "overlay", "squashfs":
			continue
		}
		if !strings.HasPrefix(mp, "/") || mp == "/" {
			continue
		}
		if strings.Contains(","+fieldOr(f, 3)+",", ",bind,") {
			continue
		}
		out = append(out, fstabEntry{Spec: f[0], MountPoint: mp, Type: typ, Line: n})
	}
	return out
}

func fieldOr(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// unescapeFstab decodes fstab's octal escapes (\040 for a space).
func unescapeFstab(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var devPartNum = regexp.MustCompile(`^/dev/(?:[shvx]d[a-z]|nvme\d+n\d+p|mmcblk\d+p)(\d+)$`)

// resolveSpec finds the volume an fstab spec names. Device names like
// /dev/sda3 are matched by partition number: on the imaged host the disk
// was probably the first, but the report says how the match was made.
func resolveSpec(spec string, vols []*openVolume) (*openVolume, string) {
	key, val, ok := strings.Cut(spec, "=")
	if !ok {
		switch {
		case strings.HasPrefix(spec, "/dev/disk/by-label/"):
			key, val = "LABEL", strings.TrimPrefix(spec, "/dev/disk/by-label/")
		case strings.HasPrefix(spec, "/dev/disk/by-uuid/"):
			key, val = "UUID", strings.TrimPrefix(spec, "/dev/disk/by-uuid/")
		case strings.HasPrefix(spec, "/dev/disk/by-partlabel/"):
			key, val = "PARTLABEL", strings.TrimPrefix(spec, "/dev/disk/by-partlabel/")
		case strings.HasPrefix(spec, "/dev/disk/by-partuuid/"):
			key, val = "PARTUUID", strings.TrimPrefix(spec, "/dev/disk/by-partuuid/")
		case strings.HasPrefix(spec, "/dev/mapper/"):
			key, val = "MAPPER", strings.TrimPrefix(spec, "/dev/mapper/")
		case strings.Count(spec, "/") == 3 && strings.HasPrefix(spec, "/dev/") && !devPartNum.MatchString(spec):
			key, val = "LVPATH", strings.TrimPrefix(spec, "/dev/") // /dev/VG/LV
		default:
			if m := devPartNum.FindStringSubmatch(spec); m != nil {
				key, val = "PARTNUM", m[1]
			}
		}
	}
	val = strings.Trim(val, `"`)
	for _, v := range vols {
		d, p := v.vol.Detect, v.vol.Part
		var hit bool
		switch key {
		case "LABEL":
			hit = d.Label == val
		case "UUID":
			hit = strings.EqualFold(d.UUID, val)
		case "PARTLABEL":
			hit = p != nil && p.Name == val
		case "PARTUUID":
			hit = p != nil && strings.EqualFold(p.GUID, val)
		case "PARTNUM":
			hit = p != nil && strconv.Itoa(p.Index) == val && p.Type != "lvm2-lv"
		case "MAPPER":
			hit = v.vol.LVMapperName() == val
		case "LVPATH":
			hit = v.vol.LVMapperName() != "" && p.Name == val
		}
		if hit {
			return v, key
		}
	}
	return nil, key
}

// linuxMounts returns the volumes a Linux root's fstab mounts, keyed by
// mount point, and notes for the mounts that name no volume of this image.
func linuxMounts(root *openVolume, vols []*openVolume) (map[string]*openVolume, []string) {
	data, err := readHead(root.fsys, "etc/fstab", 1<<20)
	if err != nil {
		return nil, nil
	}
	mounts := map[string]*openVolume{}
	var notes []string
	for _, e := range parseFstab(data) {
		v, how := resolveSpec(e.Spec, vols)
		switch {
		case v == nil:
			notes = append(notes, fmt.Sprintf("fstab line %d mounts %s from %s, which is not a readable volume of this image", e.Line, e.MountPoint, e.Spec))
		case v == root:
			continue
		default:
			mounts[e.MountPoint] = v
			if how == "PARTNUM" {
				notes = append(notes, fmt.Sprintf("fstab line %d: %s matched to partition %d of this image by number", e.Line, e.Spec, v.vol.Index))
			}
		}
	}
	return mounts, notes
}

// ComposedRoot returns the filesystem of v with the volumes its /etc/fstab
// mounts from the same image, as the analyst commands show a Linux root, and
// the mounts made (mount point -> volume name).
func ComposedRoot(img *image.Image, v *image.Volume) (fsread.FS, map[string]string, error) {
	fsys, err := v.FS()
	if err != nil {
		return nil, nil, err
	}
	if image.LooksLikeRoot(fsys) != "linux" {
		return fsys, nil, nil
	}
	root := &openVolume{vol: v, fsys: fsys, os: "linux"}
	vols := []*openVolume{root}
	for _, o := range img.Volumes {
		if o == v || !o.Scannable {
			continue
		}
		if ofs, err := o.FS(); err == nil {
			vols = append(vols, &openVolume{vol: o, fsys: ofs})
		}
	}
	mounts, _ := linuxMounts(root, vols)
	if len(mounts) == 0 {
		return fsys, nil, nil
	}
	m, names := map[string]fsread.FS{}, map[string]string{}
	for mp, mv := range mounts {
		m[mp], names[mp] = mv.fsys, mv.vol.Name
	}
	return fsread.Mount(fsys, m), names, nil
}
