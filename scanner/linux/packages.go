package linux

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snapscan/snapscan/artifact/apk"
	"github.com/snapscan/snapscan/artifact/dpkg"
	"github.com/snapscan/snapscan/artifact/rpm"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
)

// PackageCheckName names the package integrity findings.
const PackageCheckName = "packages"

// maxPackageDB bounds the bytes of dpkg's database read into memory
// (status, md5sums, lists, conffiles): a full desktop has about 40 MB.
const maxPackageDB = 256 << 20

// pkgFile is what dpkg recorded about one packaged path.
type pkgFile struct {
	pkg      int      // index in PackageHook.pkgs
	sums     []string // recorded digests (PackageHook.algo); more than one when packages share the path
	algo     string   // when not PackageHook.algo (an rpm built with another digest)
	conffile bool
	listed   bool // in the package's .list: dpkg put it on disk (path-exclude filters it out otherwise)
}

// seenFile is a packaged or unowned file the walk handed over, kept for Done.
type seenFile struct {
	f    hook.File
	kind string // "elf", "script" or ""
}

// PackageHook verifies every packaged file of a dpkg or apk root against
// the digest its package manager recorded (dpkg MD5, apk SHA-1) during the content sweep's one read, and judges the files of
// system directories that no package owns. It also answers hook.Verifier,
// so --skip-verified can leave YARA out for files whose bytes are the
// package's.
type PackageHook struct {
	fsys       fsread.FS
	volume, mp string

	pkgs     []dpkg.Package      // apk's packages are stated in the same record
	files    map[string]*pkgFile // by OS path, /usr alias applied
	owned    map[string]int      // every path a .list names (/usr alias applied) -> package index
	aliases  map[string]string   // "/bin/" -> "/usr/bin/"
	dbTime   time.Time           // mtime of the status file: the last package operation
	loadErr  []report.ScanError
	statusP  string // in-volume path of the status file
	manager  string // "dpkg" or "apk"
	algo     string // the digest the manager records: "MD5" (dpkg), "SHA-1" (apk), "SHA-256" (rpm)
	someSHA1 bool   // some files are recorded with SHA-1 (an old rpm)

	mu         sync.Mutex
	newest     time.Time // latest change time of any file: about when the image was taken
	seen       map[string]bool
	modified   []seenFile
	unowned    []seenFile
	verified   int
	unverified int // packaged files the sweep could not hash (size cap, read error)
}

// NewPackageHook reads the package database the volume holds (dpkg, else
// apk); nil when it holds none (no such root, or the database on another
// volume).
func NewPackageHook(fsys fsread.FS, volume, mountPoint string) *PackageHook {
	if h := newDpkgHook(fsys, volume, mountPoint); h != nil {
		return h
	}
	if h := newApkHook(fsys, volume, mountPoint); h != nil {
		return h
	}
	return newRpmHook(fsys, volume, mountPoint)
}

func newHook(fsys fsread.FS, volume, mountPoint, manager, algo string) *PackageHook {
	return &PackageHook{fsys: fsys, volume: volume, mp: mountPoint, manager: manager, algo: algo,
		files: map[string]*pkgFile{}, owned: map[string]int{}, aliases: map[string]string{}, seen: map[string]bool{}}
}

// digest is the file's digest in the algorithm the manager records.
func (h *PackageHook) digest(f hook.File) string {
	algo := h.algo
	if pf := h.files[f.OSPath]; pf != nil && pf.algo != "" {
		algo = pf.algo
	}
	switch algo {
	case "SHA-1":
		return f.SHA1
	case "SHA-256":
		return f.SHA256
	}
	return f.MD5
}

// WantSHA1 asks the sweep for SHA-1 when the manager records it (apk).
func (h *PackageHook) WantSHA1() bool { return h.algo == "SHA-1" || h.someSHA1 }

func newDpkgHook(fsys fsread.FS, volume, mountPoint string) *PackageHook {
	h := newHook(fsys, volume, mountPoint, "dpkg", "MD5")
	p := priv()
	dir := h.volPath(p.list("pkg", "dpkg-dir")[0])
	if dir == "" {
		return nil
	}
	t := &check.Target{FS: fsys, Volume: volume, OS: "linux"}
	s := &hookSink{volume: volume}
	r := newRun(PackageCheckName, t, s)
	h.statusP = path.Join(dir, "status")
	st := r.read(h.statusP)
	if st == nil {
		return nil
	}
	h.dbTime = st.Meta.Mtime
	h.findAliases()
	pkgs, errs := dpkg.ParseStatus(st.Data)
	for _, e := range errs {
		s.Error(h.statusP, fmt.Errorf("%s: %s: %w", volume, h.statusP, e))
	}
	var divs []dpkg.Diversion
	if f := r.read(path.Join(dir, "diversions")); f != nil {
		var err error
		if divs, err = dpkg.ParseDiversions(f.Data); err != nil {
			s.Error(path.Join(dir, "diversions"), fmt.Errorf("%s: %w", volume, err))
		}
	}
	// A diverted path holds the diverting package's file; every other
	// package's file of that name lies at the diversion's target.
	byFrom := map[string]dpkg.Diversion{}
	for _, d := range divs {
		byFrom[h.canon(d.From)] = dpkg.Diversion{From: d.From, To: h.canon(d.To), Package: d.Package}
	}
	divert := func(p string, pkg string) string {
		if d, ok := byFrom[p]; ok && d.Package != pkg {
			return d.To
		}
		return p
	}
	total := len(st.Data)
	for _, pk := range pkgs {
		if !pk.HasFiles() {
			continue
		}
		i := len(h.pkgs)
		h.pkgs = append(h.pkgs, pk)
		info := path.Join(dir, "info", pk.InfoName())
		if f := r.read(info + ".list"); f != nil {
			if total += len(f.Data); total > maxPackageDB {
				break
			}
			for _, l := range dpkg.ParseList(f.Data) {
				h.owned[divert(h.canon(l), pk.Name)] = i
			}
		}
		if f := r.read(info + ".md5sums"); f != nil {
			if total += len(f.Data); total > maxPackageDB {
				break
			}
			sums, errs := dpkg.ParseMD5Sums(f.Data)
			for _, e := range errs {
				s.Error(info+".md5sums", fmt.Errorf("%s: %s.md5sums: %w", volume, info, e))
			}
			for _, fs := range sums {
				h.add(divert(h.canon(fs.Path), pk.Name), i, fs.MD5, false)
			}
		}
		for _, c := range pk.Conffiles {
			if !c.Obsolete && c.MD5 != "newconffile" {
				h.add(divert(h.canon(c.Path), pk.Name), i, c.MD5, true)
			}
		}
	}
	if total > maxPackageDB {
		s.Error(dir, fmt.Errorf("%s: dpkg database larger than %d bytes: packages after %s not verified", volume, maxPackageDB, h.pkgs[len(h.pkgs)-1].Name))
	}
	for p, f := range h.files {
		_, listed := h.owned[p]
		f.listed = listed || f.conffile
	}
	h.loadErr = s.errs
	return h
}

func (h *PackageHook) add(p string, pkg int, sum string, conffile bool) {
	if f := h.files[p]; f != nil {
		f.sums = append(f.sums, sum)
		f.conffile = f.conffile || conffile
		return
	}
	h.files[p] = &pkgFile{pkg: pkg, sums: []string{sum}, conffile: conffile}
}

// canon names a packaged path the way the walk sees it: on a merged-/usr
// root /bin/ls is /usr/bin/ls.
func (h *PackageHook) canon(p string) string {
	p = path.Clean("/" + p)
	for from, to := range h.aliases {
		if rest, ok := strings.CutPrefix(p, from); ok {
			return to + rest
		}
	}
	return p
}

func (h *PackageHook) volPath(osPath string) string {
	return (&FileHook{mp: h.mp}).volPath(osPath)
}

func headKind(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "elf"
	case bytes.HasPrefix(head, []byte("#!")):
		return "script"
	}
	return ""
}

// File checks one file against its package's digest.
func (h *PackageHook) File(f hook.File) {
	if f.Meta != nil && !f.Meta.Ctime.IsZero() {
		// ctime is the kernel's clock, not settable by touch: the newest one
		// dates the image.
		h.mu.Lock()
		if f.Meta.Ctime.After(h.newest) {
			h.newest = f.Meta.Ctime
		}
		h.mu.Unlock()
	}
	pf := h.files[f.OSPath]
	kind := headKind(f.Head)
	f.Head = nil // only valid during the call
	if pf == nil {
		if _, own := h.owned[f.OSPath]; kind != "elf" || own || !underAny(f.OSPath, h.systemDirs()) || matchBase(priv().list("pkg", "unowned-skip"), path.Dir(f.OSPath)) {
			return
		}
		h.mu.Lock()
		h.unowned = append(h.unowned, seenFile{f, kind})
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[f.OSPath] = true
	switch {
	case h.digest(f) == "":
		h.unverified++
	case contains(pf.sums, h.digest(f)):
		h.verified++
	default:
		h.modified = append(h.modified, seenFile{f, kind})
	}
}

// Verified says the file's bytes are those its package recorded.
func (h *PackageHook) Verified(f hook.File) bool {
	pf := h.files[f.OSPath]
	return pf != nil && h.digest(f) != "" && contains(pf.sums, h.digest(f))
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (h *PackageHook) systemDirs() []string {
	p := priv()
	return append(append([]string{}, p.list("pkg", "command-dir")...), p.list("pkg", "lib-dir")...)
}

func matchBase(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Done judges what the walk saw and inventories the packages.
func (h *PackageHook) Done() ([]report.Finding, []report.InventoryItem, []report.ScanError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &hookSink{volume: h.volume, errs: h.loadErr}
	t := &check.Target{FS: h.fsys, Volume: h.volume, OS: "linux"}
	r := newRun(PackageCheckName, t, s)
	p := priv()
	cmdDirs, libDirs := p.list("pkg", "command-dir"), p.list("pkg", "lib-dir")

	sort.Slice(h.modified, func(i, j int) bool { return h.modified[i].f.OSPath < h.modified[j].f.OSPath })
	for _, m := range h.modified {
		pf := h.files[m.f.OSPath]
		pk := h.pkgs[pf.pkg]
		base := path.Base(m.f.OSPath)
		ev := r.metaEvidence(m.f.Path, m.f.Meta)
		ev.MD5, ev.SHA256 = m.f.MD5, m.f.SHA256
		ev.Match = "expected " + h.algo + " " + strings.Join(pf.sums, " or ") + " (" + h.manager + "), on disk " + h.algo + " " + h.digest(m.f)
		desc := fmt.Sprintf("%s belongs to %s %s (%s); %s recorded %s %s, the file on disk has %s %s (SHA-256 %s).",
			m.f.OSPath, pk.Name, pk.Version, pk.Architecture, h.manager, h.algo, strings.Join(pf.sums, " or "), h.algo, h.digest(m.f), m.f.SHA256)
		rule := "pkg.modified-file"
		switch {
		case pf.conffile:
			rule = "pkg.modified-conffile"
		case underAny(m.f.OSPath, libDirs) && matchBase(p.list("pkg", "auth-glob"), base):
			rule = "pkg.modified-auth"
		case underAny(m.f.OSPath, libDirs) && matchBase(p.list("pkg", "loader-glob"), base):
			rule = "pkg.modified-loader"
		case underAny(m.f.OSPath, cmdDirs) && m.kind == "elf":
			rule = "pkg.modified-command"
		case underAny(m.f.OSPath, cmdDirs) && m.kind == "script":
			rule = "pkg.script-command"
		case underAny(m.f.OSPath, cmdDirs):
			rule = "pkg.modified-command-other"
		case underAny(m.f.OSPath, libDirs) && m.kind == "elf":
			rule = "pkg.modified-lib"
		}
		r.emit(rule, ev, desc, "pkg", pk.Name, "name", base)
	}

	// Missing: listed (dpkg put it on disk), never seen by the walk, absent
	// now, in a directory this volume holds (not one another volume mounts).
	missing := map[int][]string{}
	for fp, pf := range h.files {
		if h.seen[fp] || !pf.listed {
			continue
		}
		vp := h.volPath(fp)
		if vp == "" {
			continue
		}
		if _, err := h.fsys.Lstat(check.Clean(vp)); !absent(err) {
			continue // there, but not a regular file the walk reads
		}
		if _, err := h.fsys.Stat(check.Clean(path.Dir(vp))); err != nil {
			continue
		}
		missing[pf.pkg] = append(missing[pf.pkg], fp)
	}
	for i, l := range missing {
		sort.Strings(l)
		pk := h.pkgs[i]
		ev := report.Evidence{Volume: h.volume, Path: l[0]}
		shown := l[:min(len(l), 5)]
		ev.Match = strings.Join(shown, " ")
		desc := fmt.Sprintf("%d file(s) that %s installed for %s %s are gone: %s", len(l), h.manager, pk.Name, pk.Version, strings.Join(shown, ", "))
		if len(l) > len(shown) {
			desc += ", …"
		}
		r.emit("pkg.missing", ev, desc, "pkg", pk.Name, "count", strconv.Itoa(len(l)))
	}

	sort.Slice(h.unowned, func(i, j int) bool { return h.unowned[i].f.OSPath < h.unowned[j].f.OSPath })
	for _, u := range h.unowned {
		ev := r.metaEvidence(u.f.Path, u.f.Meta)
		ev.MD5, ev.SHA256 = u.f.MD5, u.f.SHA256
		var why []string
		if isSetID(u.f.Meta) {
			why = append(why, "set-id")
		}
		if hiddenPath(u.f.OSPath) {
			why = append(why, "hidden")
		}
		born := u.f.Meta.Btime
		if born.IsZero() {
			born = u.f.Meta.Ctime
		}
		// Recently born: after the last package operation and within the
		// window before the image's newest change. An admin's tool placed
		// months ago stays medium; a fresh drop (perfctl's fake top) is high.
		if !h.dbTime.IsZero() && born.After(h.dbTime) && h.newest.Sub(born) <= recentWindow() {
			why = append(why, "placed after the last package operation ("+h.dbTime.UTC().Format(time.RFC3339)+") and within "+
				recentWindow().String()+" of the image's newest change ("+h.newest.UTC().Format(time.RFC3339)+")")
		}
		desc := fmt.Sprintf("%s is an ELF file and no %s package lists it.", u.f.OSPath, h.manager)
		if len(why) > 0 {
			r.emit("pkg.unowned-elf-marked", ev, desc+" It is "+strings.Join(why, ", ")+".", "name", path.Base(u.f.OSPath), "why", strings.Join(why, ", "))
		} else {
			r.emit("pkg.unowned-elf", ev, desc, "name", path.Base(u.f.OSPath))
		}
	}

	// Packages themselves: a miner installed with apt is verified, not clean.
	minerPkgs := p.set("pkg", "miner-package")
	minerBins := map[string]bool{}
	for _, n := range sigs().loc("miner", "binary-name") {
		minerBins[n] = true
	}
	minerFiles := map[int][]string{}
	for fp, i := range h.owned {
		if minerBins[path.Base(fp)] {
			minerFiles[i] = append(minerFiles[i], fp)
		}
	}
	for i, pk := range h.pkgs {
		files := minerFiles[i]
		sort.Strings(files)
		if minerPkgs[pk.Name] || len(files) > 0 {
			ev := report.Evidence{Volume: h.volume, Path: "/" + check.Clean(h.statusP), Line: pk.Line, Match: pk.Name + " " + pk.Version}
			desc := fmt.Sprintf("%s lists %s %s (%s) as %s.", h.manager, pk.Name, pk.Version, pk.Architecture, pk.Status)
			if len(files) > 0 {
				desc += " It ships " + strings.Join(files, ", ") + ", named like a miner."
			}
			r.emit("pkg.miner-package", ev, desc, "pkg", pk.Name)
		}
		r.inventory("package", h.statusP, pk.Line, pk.Name+" "+pk.Version+" "+pk.Architecture, map[string]string{
			"manager": h.manager, "name": pk.Name, "version": pk.Version, "architecture": pk.Architecture, "status": pk.Status,
		})
	}
	nMissing := 0
	for _, l := range missing {
		nMissing += len(l)
	}
	r.inventory("package-verification", h.statusP, 0,
		fmt.Sprintf("%s: %d packages, %d packaged files: %d verified, %d modified, %d missing, %d not hashed (size cap or unreadable)",
			h.manager, len(h.pkgs), len(h.files), h.verified, len(h.modified), nMissing, h.unverified),
		map[string]string{"manager": h.manager, "packages": strconv.Itoa(len(h.pkgs)), "files": strconv.Itoa(len(h.files)),
			"verified": strconv.Itoa(h.verified), "modified": strconv.Itoa(len(h.modified)), "missing": strconv.Itoa(nMissing),
			"unverified": strconv.Itoa(h.unverified)})
	return s.findings, s.inv, s.errs
}

// findAliases notes the top-level directories a merged-/usr root links to
// /usr/<dir>.
func (h *PackageHook) findAliases() {
	if h.mp != "/" {
		return
	}
	for _, d := range priv().list("pkg", "usr-alias") {
		if fi, err := h.fsys.Lstat(d); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if tgt, err := h.fsys.ReadLink(d); err == nil && path.Clean("/"+strings.TrimPrefix(tgt, "/")) == "/usr/"+d {
				h.aliases["/"+d+"/"] = "/usr/" + d + "/"
			}
		}
	}
}

// newApkHook reads Alpine's /lib/apk/db/installed. apk marks no conffiles:
// files under /etc are treated as configuration (apk protects /etc too).
func newApkHook(fsys fsread.FS, volume, mountPoint string) *PackageHook {
	h := newHook(fsys, volume, mountPoint, "apk", "SHA-1")
	db := h.volPath(priv().list("pkg", "apk-db")[0])
	if db == "" {
		return nil
	}
	s := &hookSink{volume: volume}
	r := newRun(PackageCheckName, &check.Target{FS: fsys, Volume: volume, OS: "linux"}, s)
	f, err := check.ReadFileMax(r.t, db, maxPackageDB)
	if f == nil {
		if err != nil && !absent(err) {
			s.Error(db, fmt.Errorf("%s: %s: %w", volume, db, err))
			h.loadErr = s.errs
			return h
		}
		return nil
	}
	if err != nil {
		s.Error(db, fmt.Errorf("%s: %s: %w", volume, db, err))
	}
	h.statusP, h.dbTime = db, f.Meta.Mtime
	h.findAliases()
	pkgs, errs := apk.ParseInstalled(f.Data)
	for _, e := range errs {
		s.Error(db, fmt.Errorf("%s: %s: %w", volume, db, e))
	}
	for _, pk := range pkgs {
		i := len(h.pkgs)
		h.pkgs = append(h.pkgs, dpkg.Package{Name: pk.Name, Version: pk.Version, Architecture: pk.Arch, Status: "installed", Line: pk.Line})
		for _, pf := range pk.Files {
			p := h.canon(pf.Path)
			h.owned[p] = i
			if pf.SHA1 != "" {
				h.add(p, i, pf.SHA1, strings.HasPrefix(p, "/etc/"))
			}
		}
	}
	for _, f := range h.files {
		f.listed = true
	}
	h.loadErr = s.errs
	return h
}

// newRpmHook reads rpmdb.sqlite (RHEL 9, Fedora) from a bounded copy. The
// digests are SHA-256 on every current distribution; a package built with
// MD5 is checked with MD5, and one with another algorithm is not checked.
func newRpmHook(fsys fsread.FS, volume, mountPoint string) *PackageHook {
	h := newHook(fsys, volume, mountPoint, "rpm", "SHA-256")
	var dir string
	for _, d := range priv().list("pkg", "rpm-dir") {
		if vp := h.volPath(d); vp != "" {
			if _, err := fsys.Stat(check.Clean(path.Join(vp, "rpmdb.sqlite"))); err == nil {
				dir = vp
				break
			}
		}
	}
	if dir == "" {
		return nil
	}
	s := &hookSink{volume: volume}
	dbp := path.Join(dir, "rpmdb.sqlite")
	h.statusP = dbp
	if fi, err := fsys.Stat(check.Clean(dbp)); err == nil {
		h.dbTime = fsread.MetaOf(fi).Mtime
	}
	h.findAliases()
	pkgs, algos, errs := rpm.ReadSQLite(fsOpener(fsys, dir))
	for _, e := range errs {
		s.Error(dbp, fmt.Errorf("%s: %s: %w", volume, dbp, e))
	}
	for n, pk := range pkgs {
		algo := map[int]string{rpm.AlgoMD5: "MD5", rpm.AlgoSHA1: "SHA-1", rpm.AlgoSHA256: "SHA-256"}[algos[n]]
		i := len(h.pkgs)
		h.pkgs = append(h.pkgs, dpkg.Package{Name: pk.Name, Version: pk.Version + "-" + pk.Release, Architecture: pk.Arch, Status: "installed"})
		for _, f := range pk.Files {
			p := h.canon(f.Path)
			h.owned[p] = i
			if f.Digest == "" || algo == "" {
				continue
			}
			h.add(p, i, strings.ToLower(f.Digest), f.Config)
			if algo != h.algo {
				h.files[p].algo = algo
				h.someSHA1 = h.someSHA1 || algo == "SHA-1"
			}
		}
	}
	for _, f := range h.files {
		f.listed = true
	}
	h.loadErr = s.errs
	return h
}

// recentWindow is pkg;recent-days: how close to the image's newest change a
// file must be born to count as freshly placed.
func recentWindow() time.Duration {
	d := 7
	if l := priv().list("pkg", "recent-days"); len(l) > 0 {
		if n, err := strconv.Atoi(l[0]); err == nil && n > 0 {
			d = n
		}
	}
	return time.Duration(d) * 24 * time.Hour
}
