package ext4

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dumpe2fs parses `dumpe2fs -h` into its "Key: value" lines.
func dumpe2fs(t *testing.T, img string) map[string]string {
	t.Helper()
	out := runCmd(t, "dumpe2fs", "-h", img)
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

func probeFile(t *testing.T, img string) *Info {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Probe(f)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestProbeMatchesDumpe2fs(t *testing.T) {
	needTools(t, "dumpe2fs")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := image(t, v)
			info := probeFile(t, img)
			d := dumpe2fs(t, img)
			label := d["Filesystem volume name"]
			if label == "<none>" {
				label = ""
			}
			checks := []struct{ what, got, want string }{
				{"label", info.Label, label},
				{"uuid", info.UUID, d["Filesystem UUID"]},
				{"block size", strconv.Itoa(int(info.BlockSize)), d["Block size"]},
				{"blocks", strconv.FormatUint(info.Blocks, 10), d["Block count"]},
				{"inodes", strconv.Itoa(int(info.Inodes)), d["Inode count"]},
				{"inode size", strconv.Itoa(int(info.InodeSize)), d["Inode size"]},
				{"features", strings.Join(info.Features, " "), d["Filesystem features"]},
				{"clean", strconv.FormatBool(!info.Mounted), strconv.FormatBool(d["Filesystem state"] == "clean")},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: %q, dumpe2fs %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestProbeState checks the facts inspect shows about how the image was
// taken, set with debugfs the way a crash or a live acquisition leaves them.
func TestProbeState(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		mkfs          []string
		reqs          []string
		kind          string
		mounted, recv bool
		mountPath     string
		mountTime     time.Time
	}{
		{name: "clean ext2", mkfs: []string{"-t", "ext2"}, kind: "ext2"},
		{name: "ext3", mkfs: []string{"-t", "ext3"}, kind: "ext3"},
		{name: "ext2 mounted", mkfs: []string{"-t", "ext2"}, kind: "ext2", reqs: []string{"ssv state 0"}, mounted: true},
		{name: "ext4 needs recovery", mkfs: []string{"-t", "ext4"}, kind: "ext4",
			reqs: []string{"feature needs_recovery"}, mounted: true, recv: true},
		{name: "last mount", mkfs: []string{"-t", "ext4"}, kind: "ext4",
			reqs:      []string{"ssv last_mounted /srv/data", "ssv mtime 20250102030405"},
			mountPath: "/srv/data", mountTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "p.img")
			runCmd(t, "mke2fs", append(append([]string{"-q", "-F", "-d", src}, c.mkfs...), img, "8M")...)
			debugfsW(t, img, c.reqs...)
			info := probeFile(t, img)
			if info.Kind != c.kind || info.Mounted != c.mounted || info.NeedsRecovery != c.recv ||
				info.LastMountPath != c.mountPath || !info.LastMount.Equal(c.mountTime) {
				t.Errorf("got kind %s mounted %v recovery %v path %q time %v", info.Kind, info.Mounted,
					info.NeedsRecovery, info.LastMountPath, info.LastMount)
			}
			if c.recv != regexp.MustCompile(`\bneeds_recovery\b`).MatchString(strings.Join(info.Features, " ")) {
				t.Errorf("features %v", info.Features)
			}
			// The journal is read as it lies: New still works.
			fsys := openImage(t, img)
			if b, err := fs.ReadFile(fsys, "f"); err != nil || string(b) != "x" {
				t.Errorf("read f: %q %v", b, err)
			}
		})
	}
}

func TestProbeRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"zeros", make([]byte, 4096)},
		{"short", make([]byte, 1500)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Probe(bytes.NewReader(c.data)); err == nil {
				t.Error("Probe accepted a non-ext image")
			}
		})
	}
}
