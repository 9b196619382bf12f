package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/windows"
)

// memFile is a file of a fake image.
type memFile struct {
	*bytes.Reader
	name string
	size int64
	mode fs.FileMode
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return f.mode }
func (f *memFile) ModTime() time.Time         { return time.Unix(1700000000, 0).UTC() }
func (f *memFile) IsDir() bool                { return f.mode.IsDir() }
func (f *memFile) Sys() any                   { return nil }

// memImage maps "volume\x00path" to content; a nil content is a directory.
type memImage map[string][]byte

func (m memImage) open(volume, p string) (fs.File, error) {
	data, ok := m[volume+"\x00"+p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	mode := fs.FileMode(0o644)
	if data == nil {
		mode = fs.ModeDir | 0o755
	}
	return &memFile{Reader: bytes.NewReader(data), name: p, size: int64(len(data)), mode: mode}, nil
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func fnd(vol, p, check string, content []byte) report.Finding {
	f := report.Finding{Rule: "test.rule", Check: check, Severity: report.High, Technique: "T1053.003",
		Evidence: report.Evidence{Volume: vol, Path: p}}
	if content != nil {
		f.Evidence.SHA256 = sum(content)
	}
	f.ID = report.FindingID(&f)
	return f
}

var hexName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkDir proves that nothing escaped DIR: the parent holds only DIR, DIR
// holds manifests and files/, files/ holds read-only copies named by
// their SHA-256, and no symbolic link was made anywhere.
func checkDir(t *testing.T, parent, dir string) {
	t.Helper()
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, p)
		fi, _ := os.Lstat(p)
		switch {
		case p == parent:
		case p == dir:
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("DIR mode %v, want 0700", fi.Mode().Perm())
			}
		case p == filepath.Join(dir, FilesDir):
		case filepath.Dir(p) == dir && strings.HasPrefix(d.Name(), "manifest-") && strings.HasSuffix(d.Name(), ".json"):
			if fi.Mode().Perm() != 0o444 {
				t.Errorf("%s mode %v", rel, fi.Mode().Perm())
			}
		case filepath.Dir(p) == filepath.Join(dir, FilesDir) && hexName.MatchString(d.Name()):
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o444 {
				t.Errorf("%s mode %v, want a regular file 0444", rel, fi.Mode())
			}
			b, _ := os.ReadFile(p)
			if sum(b) != d.Name() {
				t.Errorf("%s holds content with SHA-256 %s", rel, sum(b))
			}
		default:
			t.Errorf("unexpected entry %q (mode %v)", rel, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCaptureHostileNames(t *testing.T) {
	long := strings.Repeat("A", 300)
	files := []struct{ vol, path, content string }{
		{"d.img@1", "/../../etc/passwd", "root:x:0:0 planted"},
		{"d.img@1", "../../../../../../tmp/escape", "escape"},
		{"d.img@1", "/abs", "abs"},
		{"d.img@1", "/a\x00b", "nul"},
		{"d.img@1", "/" + long + "/" + long, "long"},
		{"d.img@1", "/bad\xff\xfeutf8", "invalid utf-8"},
		{"d.img@1", "/CON", "upper"},
		{"d.img@1", "/con", "lower"},
		{"d.img@1", "/NUL.txt", "device"},
		{"d.img@1", "/C:\\Windows\\evil.exe", "backslashes"},
		{"d.img@1", "/same-content-1", "dup"},
		{"d.img@1", "/same-content-2", "dup"},
		{"../../vol", "/x", "hostile volume"},
	}
	img := memImage{"d.img@1\x00/dir": nil}
	r := &report.Report{Image: "/evidence/../d.img", Started: time.Unix(1700000000, 0).UTC()}
	for _, f := range files {
		img[f.vol+"\x00"+f.path] = []byte(f.content)
		r.Findings = append(r.Findings, fnd(f.vol, f.path, "cron", []byte(f.content)))
	}
	// Two findings on one file give one entry; a wrong hash is reported;
	// a directory and a missing file are entries with errors.
	second := fnd("d.img@1", "/abs", "hosts", []byte("abs"))
	second.Rule = "other.rule"
	second.ID = report.FindingID(&second)
	r.Findings = append(r.Findings, second)
	wrong := fnd("d.img@1", "/changed", "cron", []byte("what the scan saw"))
	img["d.img@1\x00/changed"] = []byte("what is there now")
	r.Findings = append(r.Findings, wrong, fnd("d.img@1", "/dir", "cron", nil), fnd("d.img@1", "/gone", "cron", []byte("x")))

	parent := t.TempDir()
	dir := filepath.Join(parent, "ev")
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	m, err := Capture(dir, r, img.open, now, "test")
	if err != nil {
		t.Fatal(err)
	}
	checkDir(t, parent, dir)
	if len(m.Entries) != len(files)+3 {
		t.Fatalf("%d entries, want %d", len(m.Entries), len(files)+3)
	}
	// The manifest on disk is the one returned.
	raw, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	var disk Manifest
	if err := json.Unmarshal(raw, &disk); err != nil || len(disk.Entries) != len(m.Entries) || disk.Version != "test" || !disk.Captured.Equal(now) {
		t.Fatalf("manifest on disk: %v, %d entries", err, len(disk.Entries))
	}
	if filepath.Dir(m.Path) != dir || !strings.HasPrefix(filepath.Base(m.Path), "manifest-d.img-20261125T080000Z") {
		t.Errorf("manifest at %s", m.Path)
	}
	if m.ImageHashError == "" {
		t.Error("a missing image was hashed")
	}
	byPath := map[string]Entry{}
	for _, e := range m.Entries {
		byPath[e.Volume+"\x00"+e.Path] = e
	}
	for _, f := range files {
		e, ok := byPath[f.vol+"\x00"+f.path]
		if !ok {
			t.Errorf("%q: no entry", f.path)
			continue
		}
		if e.Error != "" || e.SHA256 != sum([]byte(f.content)) || e.HashCheck != "match" || e.File != "files/"+e.SHA256 {
			t.Errorf("%q: %+v", f.path, e)
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.File)))
		if err != nil || string(got) != f.content {
			t.Errorf("%q: copy holds %q, %v", f.path, got, err)
		}
		if strings.Contains(f.path, "\xff") != (e.PathQuoted != "") {
			t.Errorf("%q: path_quoted %q", f.path, e.PathQuoted)
		}
	}
	if e := byPath["d.img@1\x00/abs"]; len(e.FindingIDs) != 2 {
		t.Errorf("/abs: finding ids %v, want both findings", e.FindingIDs)
	}
	if e := byPath["d.img@1\x00/changed"]; e.HashCheck != "mismatch" || e.SHA256 != sum([]byte("what is there now")) {
		t.Errorf("changed file: %+v", e)
	}
	if e := byPath["d.img@1\x00/dir"]; !strings.Contains(e.Error, "not a regular file") || e.File != "" {
		t.Errorf("directory: %+v", e)
	}
	if e := byPath["d.img@1\x00/gone"]; !strings.Contains(e.Error, "not exist") {
		t.Errorf("missing: %+v", e)
	}

	// A second capture adds a manifest and never rewrites the first.
	before, _ := os.Stat(m.Path)
	m2, err := Capture(dir, r, img.open, now, "test")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(m.Path)
	if m2.Path == m.Path || !strings.HasSuffix(m2.Path, "-2.json") || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second manifest %s (first %s)", m2.Path, m.Path)
	}
	if again, _ := os.ReadFile(m.Path); !bytes.Equal(again, raw) {
		t.Error("the first manifest changed")
	}
	checkDir(t, parent, dir)
}

func TestCaptureResolvesMounts(t *testing.T) {
	home := []byte("key on the home volume")
	shadow := []byte("shadowed file on the root volume")
	onlyHome := []byte("swept on the home volume")
	img := memImage{
		"d.img@2\x00/bob/.ssh/authorized_keys":      home,
		"d.img@1\x00/home/bob/.ssh/authorized_keys": shadow,
		"d.img@2\x00/bob/xmrig":                     onlyHome,
		"d.img@1\x00/etc/crontab":                   []byte("crontab"),
	}
	r := &report.Report{Image: "d.img", Targets: []report.Target{{OS: "linux", Volume: "d.img@1", Mounts: map[string]string{"/home": "d.img@2"}}}}
	for _, tc := range []struct {
		name        string
		f           report.Finding
		readVol     string
		readPath    string
		wantContent []byte
		check       string
	}{
		{"check through the composed tree", fnd("d.img@1", "/home/bob/.ssh/authorized_keys", "sshkeys", home), "d.img@2", "/bob/.ssh/authorized_keys", home, "match"},
		{"check without hash prefers the mount", fnd("d.img@1", "/home/bob/.ssh/authorized_keys", "sshkeys", nil), "d.img@2", "/bob/.ssh/authorized_keys", home, "not in report"},
		{"sweep of the root saw the shadowed file", fnd("d.img@1", "/home/bob/.ssh/authorized_keys", "sweep", shadow), "", "", shadow, "match"},
		{"sweep of the home volume names its mount point", fnd("d.img@2", "/home/bob/xmrig", "sweep", onlyHome), "d.img@2", "/bob/xmrig", onlyHome, "match"},
		{"plain file on the root", fnd("d.img@1", "/etc/crontab", "cron", []byte("crontab")), "", "", []byte("crontab"), "match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := *r
			rr.Findings = []report.Finding{tc.f}
			dir := filepath.Join(t.TempDir(), "ev")
			m, err := Capture(dir, &rr, img.open, time.Now(), "test")
			if err != nil || len(m.Entries) != 1 {
				t.Fatalf("%v %+v", err, m)
			}
			e := m.Entries[0]
			if e.ReadVolume != tc.readVol || e.ReadPath != tc.readPath || e.SHA256 != sum(tc.wantContent) || e.HashCheck != tc.check {
				t.Errorf("entry %+v", e)
			}
		})
	}
}

func TestCaptureWithoutFindingsWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	m, err := Capture(dir, &report.Report{Image: "x"}, memImage{}.open, time.Now(), "t")
	if err != nil || len(m.Entries) != 0 || m.Path != "" {
		t.Fatalf("%v %+v", err, m)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("DIR created for nothing: %v", err)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"disk.img": "disk.img", "../../etc/passwd": "_.._etc_passwd", "CON": "_CON", "con.img": "_con.img",
		"COM1": "_COM1", "COMX": "COMX", "": "image", "...": "image", "a\x00b": "a_b", "é": "_",
		strings.Repeat("x", 300): strings.Repeat("x", 64),
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCaptureFromRealImage scans linux-infected.img and captures every file
// behind a finding through ImageOpener: every copy's SHA-256, recomputed
// from the copied bytes, equals the one in the report, and the image is
// not changed.
func TestCaptureFromRealImage(t *testing.T) {
	p := testimg.Path(t, "linux-infected.img")
	testimg.Unchanged(t, p)
	r := scanner.ScanImage(context.Background(), p, scanner.Options{Checks: append(linux.Checks(), windows.Checks()...), Version: "test"})
	report.Finalize(r)
	if len(r.Findings) < 10 {
		t.Fatalf("only %d findings", len(r.Findings))
	}
	open, closeImg, err := ImageOpener(p)
	if err != nil {
		t.Fatal(err)
	}
	defer closeImg()
	parent := t.TempDir()
	dir := filepath.Join(parent, "ev")
	m, err := Capture(dir, r, open, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	checkDir(t, parent, dir)
	f, _ := os.Open(p)
	h := sha256.New()
	io.Copy(h, f)
	f.Close()
	if m.ImageSHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("image sha256 %s", m.ImageSHA256)
	}
	ev := map[[2]string]report.Evidence{}
	for _, f := range r.Findings {
		ev[[2]string{f.Evidence.Volume, f.Evidence.Path}] = f.Evidence
	}
	var matched, viaMount, failed, sameInode int
	for _, e := range m.Entries {
		// The manifest's metadata comes from the image again: it must
		// agree with what the scan recorded for the same file.
		if want := ev[[2]string{e.Volume, e.Path}]; e.Error == "" && want.Inode != 0 {
			if e.Inode != want.Inode || e.Size != want.Size || (want.Mtime != nil && (e.Mtime == nil || !e.Mtime.Equal(*want.Mtime))) {
				t.Errorf("%s:%s: manifest inode %d size %d mtime %v, report %d %d %v", e.Volume, e.Path, e.Inode, e.Size, e.Mtime, want.Inode, want.Size, want.Mtime)
			} else {
				sameInode++
			}
		}
		switch {
		case e.Error != "":
			failed++
			if e.ReportedSHA256 != "" {
				// The scan read it; capture must be able to as well.
				t.Errorf("%s:%s: %s", e.Volume, e.Path, e.Error)
			} else {
				t.Logf("not captured %s:%s: %s", e.Volume, e.Path, e.Error)
			}
		case e.HashCheck == "match":
			matched++
		case e.HashCheck == "mismatch":
			t.Errorf("%s:%s: copy %s, report %s", e.Volume, e.Path, e.SHA256, e.ReportedSHA256)
		}
		if e.ReadVolume != "" {
			viaMount++
		}
	}
	t.Logf("%d findings, %d files: %d hashes match the report, %d with the report's inode/size/mtime, %d read through a mount, %d not captured; targets %+v",
		len(r.Findings), len(m.Entries), matched, sameInode, viaMount, failed, r.Targets)
	if viaMount == 0 {
		t.Error("no file was read through the /home mount: the image's /home findings should be")
	}
	if matched < 5 {
		t.Errorf("only %d captured files have a hash to compare", matched)
	}
}

// A file claiming more than the cap is recorded with an error, not copied:
// one hostile inode must not fill the examiner's disk.
func TestCaptureCapsCopySize(t *testing.T) {
	old := MaxCopySize
	MaxCopySize = 1000
	defer func() { MaxCopySize = old }()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("x"), 5000), 0o644)
	os.WriteFile(filepath.Join(src, "small"), []byte("ok"), 0o644)
	open := func(volume, p string) (fs.File, error) { return os.Open(filepath.Join(src, p)) }
	r := &report.Report{Image: "i.img", Findings: []report.Finding{
		{ID: "A", Rule: "r", Evidence: report.Evidence{Volume: "v", Path: "/big"}},
		{ID: "B", Rule: "r", Evidence: report.Evidence{Volume: "v", Path: "/small"}},
	}}
	dir := filepath.Join(t.TempDir(), "ev")
	m, err := Capture(dir, r, open, time.Unix(0, 0), "test")
	if err != nil {
		t.Fatal(err)
	}
	var copiedBytes int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.Contains(p, "files") {
			fi, _ := d.Info()
			copiedBytes += fi.Size()
		}
		return nil
	})
	if copiedBytes != 2 {
		t.Errorf("%d bytes copied, want only the small file's 2", copiedBytes)
	}
	js, _ := json.Marshal(m)
	if !strings.Contains(string(js), "not copied") {
		t.Errorf("manifest does not say the big file was not copied: %s", js)
	}
}
