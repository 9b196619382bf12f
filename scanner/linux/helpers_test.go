package linux

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// sink collects what checks report.
type sink struct {
	mu       sync.Mutex
	findings []report.Finding
	inv      []report.InventoryItem
	errs     []string
}

func (s *sink) Finding(f report.Finding) {
	s.mu.Lock()
	s.findings = append(s.findings, f)
	s.mu.Unlock()
}
func (s *sink) Inventory(i report.InventoryItem) {
	s.mu.Lock()
	s.inv = append(s.inv, i)
	s.mu.Unlock()
}
func (s *sink) Error(p string, err error) {
	s.mu.Lock()
	s.errs = append(s.errs, p+": "+err.Error())
	s.mu.Unlock()
}

func (s *sink) dump() string {
	var b strings.Builder
	for _, f := range s.findings {
		fmt.Fprintf(&b, "  %s %s %s line %d fam=%s sev=%s %q\n", f.Evidence.Path, f.Rule, f.Technique, f.Evidence.Line, f.Family, f.Severity, f.Evidence.Match)
	}
	return b.String()
}

// overlay is an fsread.Backend over a host directory whose owners, modes,
// flags and times come from an .attrs-style table instead of the host: it
// stands in for an ext4 image where the test cannot chattr (tmpfs) or own
// files. Defaults follow make.sh: owner 0:0, times SOURCE_DATE_EPOCH.
type overlay struct {
	root  string
	attrs map[string]*attr // by image path without leading "/"
	epoch time.Time
}

type attr struct {
	uid, gid    *uint32
	perm        *fs.FileMode
	flags       uint32
	times       map[string]time.Time
	hasOwnerSet bool
}

func (o *overlay) Root() string { return o.root }
func (o *overlay) rel(n string) string {
	r, _ := filepath.Rel(o.root, n)
	return filepath.ToSlash(r)
}
func (o *overlay) Lookup(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err != nil {
		return "", err
	}
	return p, nil
}
func (o *overlay) ReadDir(dir string) ([]fsread.Dirent[string], error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fsread.Dirent[string]
	for _, e := range ents {
		out = append(out, fsread.Dirent[string]{Name: e.Name(), Node: filepath.Join(dir, e.Name()), Type: e.Type(), TypeKnown: true})
	}
	return out, nil
}
func (o *overlay) ReadLink(n string) (string, error) { return os.Readlink(n) }
func (o *overlay) Open(n string) (io.ReaderAt, int64, error) {
	f, err := os.Open(n)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
func (o *overlay) Meta(n string) (*fsread.Meta, error) {
	st, err := os.Lstat(n)
	if err != nil {
		return nil, err
	}
	m := &fsread.Meta{Name: st.Name(), Mode: st.Mode(), Size: st.Size(), HasOwner: true}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		m.Inode, m.Nlink = sys.Ino, uint32(sys.Nlink)
	}
	m.Mtime, m.Atime, m.Ctime, m.Btime = o.epoch, o.epoch, o.epoch, o.epoch
	if m.Mode&fs.ModeSymlink != 0 {
		m.LinkTarget, _ = os.Readlink(n)
	}
	rel := o.rel(n)
	if rel == "." {
		rel = ""
	}
	if a := o.attrs[rel]; a != nil {
		if a.uid != nil {
			m.UID = *a.uid
		}
		if a.gid != nil {
			m.GID = *a.gid
		}
		if a.perm != nil {
			m.Mode = m.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | *a.perm
		}
		m.Flags = a.flags
		for k, t := range a.times {
			switch k {
			case "mtime":
				m.Mtime = t
			case "atime":
				m.Atime = t
			case "ctime":
				m.Ctime = t
			case "crtime":
				m.Btime = t
			}
		}
	}
	return m, nil
}

// stageTree copies src into a temp dir (symlinks as symlinks), carries out
// the .attrs structural lines (mkdir, symlink, hardlink) and returns an FS
// with the attrs' owners, modes, flags and times.
func stageTree(t testing.TB, src, attrsFile string) fsread.FS {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			tgt, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(tgt, out)
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, _ := d.Info()
			return os.WriteFile(out, data, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return overlayFS(t, dst, attrsFile)
}

// overlayFS wraps dir with the attrs of attrsFile ("" for none).
func overlayFS(t testing.TB, dir, attrsFile string) fsread.FS {
	t.Helper()
	o := &overlay{root: dir, attrs: map[string]*attr{}, epoch: time.Unix(1700000000, 0).UTC()}
	if attrsFile != "" {
		data, err := os.ReadFile(attrsFile)
		if err != nil {
			t.Fatal(err)
		}
		applyAttrs(t, o, string(data))
	}
	return fsread.NewFS[string](o, "overlay "+dir)
}

// overlayWith wraps dir with attrs given as text.
func overlayWith(t testing.TB, dir, attrsText string) fsread.FS {
	t.Helper()
	o := &overlay{root: dir, attrs: map[string]*attr{}, epoch: time.Unix(1700000000, 0).UTC()}
	applyAttrs(t, o, attrsText)
	return fsread.NewFS[string](o, "overlay "+dir)
}

func norm(p string) string { return strings.Trim(path.Clean("/"+p), "/") }

func applyAttrs(t testing.TB, o *overlay, text string) {
	t.Helper()
	get := func(p string) *attr {
		p = norm(p)
		if o.attrs[p] == nil {
			o.attrs[p] = &attr{times: map[string]time.Time{}}
		}
		return o.attrs[p]
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "mkdir":
			if err := os.MkdirAll(filepath.Join(o.root, norm(f[1])), 0o755); err != nil {
				t.Fatal(err)
			}
		case "symlink":
			p := filepath.Join(o.root, norm(f[1]))
			os.Remove(p)
			if err := os.Symlink(f[2], p); err != nil {
				t.Fatal(err)
			}
		case "hardlink":
			if err := os.Link(filepath.Join(o.root, norm(f[2])), filepath.Join(o.root, norm(f[1]))); err != nil {
				t.Fatal(err)
			}
		case "mknod":
			// Device nodes have no content a check reads; not staged.
		case "mtime", "atime", "ctime", "crtime":
			s, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("attrs line %d: %v", n, err)
			}
			get(f[1]).times[f[0]] = time.Unix(s, 0).UTC()
		default:
			if len(f) < 4 {
				t.Fatalf("attrs line %d: want PATH UID GID MODE [FLAGS]", n)
			}
			if _, err := os.Lstat(filepath.Join(o.root, norm(f[0]))); err != nil {
				t.Fatalf("attrs line %d: %v", n, err)
			}
			a := get(f[0])
			if f[1] != "-" {
				v, _ := strconv.ParseUint(f[1], 10, 32)
				u := uint32(v)
				a.uid = &u
			}
			if f[2] != "-" {
				v, _ := strconv.ParseUint(f[2], 10, 32)
				g := uint32(v)
				a.gid = &g
			}
			if f[3] != "-" {
				v, err := strconv.ParseUint(f[3], 8, 32)
				if err != nil {
					t.Fatalf("attrs line %d: %v", n, err)
				}
				m := fs.FileMode(v & 0o777)
				if v&0o1000 != 0 {
					m |= fs.ModeSticky
				}
				if v&0o2000 != 0 {
					m |= fs.ModeSetgid
				}
				if v&0o4000 != 0 {
					m |= fs.ModeSetuid
				}
				a.perm = &m
			}
			if len(f) > 4 && f[4] != "-" {
				for _, fl := range strings.Split(f[4], ",") {
					switch fl {
					case "immutable":
						a.flags |= fsread.FlagImmutable
					case "append-only":
						a.flags |= fsread.FlagAppendOnly
					}
				}
			}
		}
	}
}

// tree writes files into a temp dir: "path" -> content; a content starting
// with "->" makes a symlink, a path ending in "/" a directory.
func tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(dir, k)
		if strings.HasSuffix(k, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		v := files[k]
		if tgt, ok := strings.CutPrefix(v, "->"); ok {
			if err := os.Symlink(tgt, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCheck runs one check over fsys.
func runCheck(t testing.TB, c check.Check, fsys fsread.FS) *sink {
	t.Helper()
	s := &sink{}
	if err := c.Run(context.Background(), &check.Target{FS: fsys, Volume: "test@1", OS: "linux"}, s); err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return s
}

// runAll runs every registered check.
func runAll(t testing.TB, fsys fsread.FS) *sink {
	t.Helper()
	s := &sink{}
	for _, c := range Checks() {
		if err := c.Run(context.Background(), &check.Target{FS: fsys, Volume: "test@1", OS: "linux"}, s); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
	}
	return s
}

// want describes one expected finding; zero fields match anything.
type want struct {
	path, rule, technique, family string
	line                          int
	sev                           report.Severity
	anySev                        bool
	desc                          string // a substring of the title or description
}

func (w want) matches(f report.Finding) bool {
	return f.Evidence.Path == w.path && f.Rule == w.rule &&
		(w.technique == "" || f.Technique == w.technique) &&
		(w.family == "" || f.Family == w.family) &&
		(w.line == 0 || f.Evidence.Line == w.line) &&
		(w.anySev || f.Severity == w.sev) &&
		(w.desc == "" || strings.Contains(f.Title+" "+f.Description, w.desc))
}

func (s *sink) has(w want) bool {
	for _, f := range s.findings {
		if w.matches(f) {
			return true
		}
	}
	return false
}

// findingsAt returns findings whose evidence path is p.
func (s *sink) findingsAt(p string) []report.Finding {
	var out []report.Finding
	for _, f := range s.findings {
		if f.Evidence.Path == p {
			out = append(out, f)
		}
	}
	return out
}

func fakeTarget() *check.Target { return &check.Target{Volume: "test@1", OS: "linux"} }
