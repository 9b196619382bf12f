package linux

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
)

// SetID finds set-user-id and set-group-id files in writable directories
// (/tmp, /var/tmp, /dev/shm, homes), where privilege-escalation plants go.
// The rest of the image is covered during the content sweep's one walk by
// FileHook, which inventories every set-id file; the two split the image so
// that no file is reported twice, and this check still runs with --no-sweep.
type SetID struct{}

func (SetID) Name() string { return "suid" }
func (SetID) OS() string   { return "linux" }

func isSetID(m *fsread.Meta) bool {
	return m != nil && m.Mode.IsRegular() && m.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0
}

func (c SetID) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	var shells map[string]string
	seen := map[string]bool{}
	for _, dir := range writableDirs(t) {
		r.walkFiles(dir, func(p string, m *fsread.Meta) {
			if !isSetID(m) || seen[p] {
				return
			}
			seen[p] = true
			if shells == nil {
				shells = r.shellHashes()
			}
			f := r.read(p)
			sha := ""
			if f != nil {
				sha = f.Evidence.SHA256
			}
			ev := r.metaEvidence(p, m)
			ev.SHA256 = sha
			if f != nil {
				ev.MD5 = f.Evidence.MD5
			}
			r.setIDFile(p, p, ev, m, sha, shells, nil, true)
		})
		if check.Deadline(ctx) {
			break
		}
	}
	return ctx.Err()
}

// shellHashes maps the SHA-256 of every shell and interpreter on the image
// to its path.
func (r *run) shellHashes() map[string]string {
	out := map[string]string{}
	for _, p := range r.expandGlobs(priv().list("suid", "shell")) {
		if m, ok := r.lstat(p); !ok || !m.Mode.IsRegular() {
			continue // a link's target is hashed under its own name
		}
		if f := r.read(p); f != nil {
			if _, dup := out[f.Evidence.SHA256]; !dup {
				out[f.Evidence.SHA256] = p
			}
		}
	}
	return out
}

// setIDFile inventories one set-id file and judges it. osPath is where the
// OS sees it, p where the evidence points (the volume's own path). owned is
// nil when no package database could be read.
func (r *run) setIDFile(p, osPath string, ev report.Evidence, m *fsread.Meta, sha string, shells map[string]string, owned func(string) bool, writable bool) {
	bits := []string{}
	if m.Mode&fs.ModeSetuid != 0 {
		bits = append(bits, "setuid")
	}
	if m.Mode&fs.ModeSetgid != 0 {
		bits = append(bits, "setgid")
	}
	fields := map[string]string{"mode": fsread.ModeString(m.Mode), "bits": strings.Join(bits, ","), "sha256": sha, "os_path": osPath}
	if m.HasOwner {
		fields["uid"], fields["gid"] = fmt.Sprint(m.UID), fmt.Sprint(m.GID)
	}
	r.inventory("setid-file", p, 0, osPath+" "+fsread.ModeString(m.Mode), fields)
	owner := "its owner"
	if m.HasOwner {
		owner = fmt.Sprintf("uid %d / gid %d", m.UID, m.GID)
	}
	desc := fmt.Sprintf("%s is %s (%s), so it runs with the rights of %s.", osPath, strings.Join(bits, " and "), fsread.ModeString(m.Mode), owner)
	switch {
	case sha != "" && shells[sha] != "":
		r.emit("suid.shell-copy", ev, desc+fmt.Sprintf(" Its content is identical to %s (SHA-256 %s).", shells[sha], sha), "name", shells[sha])
	case writable:
		r.emit("suid.writable-dir", ev, desc+" It lies in a directory unprivileged users can write.")
	case hiddenPath(osPath):
		r.emit("suid.hidden-dir", ev, desc+" Its path has a hidden (dot) component.")
	case owned != nil:
		if !owned(osPath) {
			r.emit("suid.unowned", ev, desc+" No dpkg file list (/var/lib/dpkg/info/*.list) names it.")
		}
	default:
		if !priv().set("suid", "known")[osPath] {
			r.emit("suid.unknown", ev, desc+" It is not among the programs set-id on stock distributions (signatures/linux/privesc-paths.txt).")
		}
	}
}

// usrAliases are the names a merged-/usr system gives one file; dpkg lists
// name whichever the package shipped.
func usrAliases(p string) []string {
	out := []string{p}
	for _, d := range []string{"/bin/", "/sbin/", "/lib/", "/lib64/"} {
		if strings.HasPrefix(p, "/usr"+d) {
			out = append(out, strings.TrimPrefix(p, "/usr"))
		} else if strings.HasPrefix(p, d) {
			out = append(out, "/usr"+p)
		}
	}
	return out
}

// maxDpkgLists bounds the bytes of dpkg file lists read (a full desktop
// has about 20 MB of them).
const maxDpkgLists = 128 << 20

// dpkgOwned reads every /var/lib/dpkg/info/*.list; nil when there are
// none (no dpkg, or /var on a volume this FS does not hold).
func (r *run) dpkgOwned(infoDir string) func(string) bool {
	ents := r.readDirQuiet(infoDir)
	files := map[string]bool{}
	total := 0
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".list") {
			continue
		}
		f := r.read(path.Join(infoDir, e.Name()))
		if f == nil {
			continue
		}
		if total += len(f.Data); total > maxDpkgLists {
			r.out.Error(infoDir, fmt.Errorf("%s: dpkg file lists larger than %d bytes; package ownership not judged", r.t.Volume, maxDpkgLists))
			return nil
		}
		for _, l := range lines(f.Data) {
			if l.Text != "" {
				files[l.Text] = true
			}
		}
	}
	if len(files) == 0 {
		return nil
	}
	return func(p string) bool {
		for _, a := range usrAliases(p) {
			if files[a] {
				return true
			}
		}
		return false
	}
}

// FileHook judges what the content sweep's walk sees of one volume that a
// Linux root mounts: every set-id file (inventory; shell copies, hidden
// places, files no package owns) and kernel modules outside the module
// tree. The places the suid and kmod checks walk themselves are left to
// them.
type FileHook struct {
	fsys       fsread.FS
	volume, mp string

	mu      sync.Mutex
	setid   []hook.File
	modules []hook.File
	scripts []hook.File       // shell scripts, scored as droppers in Done
	shells  map[string]string // sha256 -> OS path
	pats    []string
	dirs    map[string]bool // the directories of pats: most files are in none
}

// NewFileHook returns the hook for one volume mounted at mountPoint ("/",
// "/home", ...).
func NewFileHook(fsys fsread.FS, volume, mountPoint string) *FileHook {
	h := &FileHook{fsys: fsys, volume: volume, mp: mountPoint, shells: map[string]string{}, pats: priv().list("suid", "shell"), dirs: map[string]bool{}}
	for _, p := range h.pats {
		h.dirs[path.Dir(p)] = true
	}
	return h
}

// File keeps what Done needs: set-id files, module-named files with module
// content, and the hashes of shells and interpreters.
func (h *FileHook) File(f hook.File) {
	setid := isSetID(f.Meta)
	module := isModuleName(path.Base(f.OSPath)) && isModuleContent(f.Head)
	shell := false
	if f.SHA256 != "" && h.dirs[path.Dir(f.OSPath)] {
		for _, p := range h.pats {
			if ok, _ := path.Match(p, f.OSPath); ok {
				shell = true
				break
			}
		}
	}
	script := f.Meta != nil && f.Meta.Size <= maxDropperScript && f.Meta.Size > 0 && looksLikeShellScript(path.Base(f.OSPath), f.Head)
	if !setid && !module && !shell && !script {
		return
	}
	f.Head = nil // only valid during the call
	h.mu.Lock()
	defer h.mu.Unlock()
	if setid {
		h.setid = append(h.setid, f)
	}
	if module {
		h.modules = append(h.modules, f)
	}
	if script {
		h.scripts = append(h.scripts, f)
	}
	if shell {
		if _, dup := h.shells[f.SHA256]; !dup {
			h.shells[f.SHA256] = f.OSPath
		}
	}
}

// hookSink collects what Done reports.
type hookSink struct {
	volume   string
	findings []report.Finding
	inv      []report.InventoryItem
	errs     []report.ScanError
}

func (s *hookSink) Finding(f report.Finding)         { s.findings = append(s.findings, f) }
func (s *hookSink) Inventory(i report.InventoryItem) { s.inv = append(s.inv, i) }
func (s *hookSink) Error(p string, err error) {
	s.errs = append(s.errs, report.ScanError{Volume: s.volume, Path: p, Stage: "sweep", Error: err.Error()})
}

// volPath is the in-volume path of an OS path, "" when another volume
// holds it.
func (h *FileHook) volPath(osPath string) string {
	mp := strings.TrimRight(h.mp, "/")
	if mp == "" {
		return osPath
	}
	if rest, ok := strings.CutPrefix(osPath, mp+"/"); ok {
		return "/" + rest
	}
	return ""
}

func (h *FileHook) Done() ([]report.Finding, []report.InventoryItem, []report.ScanError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &hookSink{volume: h.volume}
	t := &check.Target{FS: h.fsys, Volume: h.volume, OS: "linux"}
	r := newRun(SetID{}.Name(), t, s)
	p := priv()

	// What the targeted checks walk themselves.
	var skip []string
	if h.mp == "/" {
		skip = writableDirs(t)
	} else {
		for _, d := range p.list("common", "writable-dir") {
			if !strings.HasPrefix(d, "~") {
				skip = append(skip, d)
			}
		}
		skip = append(skip, "/home", "/root")
	}
	var owned func(string) bool
	if len(h.setid) > 0 {
		if vp := h.volPath(p.list("common", "dpkg-info")[0]); vp != "" {
			owned = r.dpkgOwned(vp)
		}
	}
	for _, f := range h.setid {
		if underAny(f.OSPath, skip) {
			continue
		}
		ev := r.metaEvidence(f.Path, f.Meta)
		ev.SHA256 = f.SHA256
		r.setIDFile(f.Path, f.OSPath, ev, f.Meta, f.SHA256, h.shells, owned, false)
	}

	km := newRun(KernelModules{}.Name(), t, s)
	kskip := append(append([]string{}, p.list("kmod", "module-root")...), p.list("kmod", "copy-dir")...)
	if h.mp == "/" {
		kskip = append(kskip, km.expandGlobsIn(p.list("kmod", "search-dir"), peopleHomes(t))...)
	} else {
		for _, d := range p.list("kmod", "search-dir") {
			if !strings.HasPrefix(d, "~") {
				kskip = append(kskip, d)
			}
		}
		kskip = append(kskip, "/home")
	}
	for _, f := range h.modules {
		if underAny(f.OSPath, kskip) {
			continue
		}
		km.strayModule(f.Path, f.Meta, hiddenPath(f.OSPath))
	}

	// Scripts outside the places the droppers check walks.
	dr := newRun(Droppers{}.Name(), t, s)
	sort.Slice(h.scripts, func(i, j int) bool { return h.scripts[i].Path < h.scripts[j].Path })
	for _, f := range h.scripts {
		if underAny(f.OSPath, skip) {
			continue
		}
		if fl := dr.read(f.Path); fl != nil {
			dr.judgeDropper(fl)
		}
	}
	return s.findings, s.inv, s.errs
}
