package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/scanner/check"
)

// KernelModules judges loadable kernel modules left on disk: .ko files
// outside the kernel's module tree, boot-time module lists naming modules no
// kernel ships, and modprobe.d install lines that run commands. Known
// rootkit modules are matched by content in the sweep (signatures/yara).
type KernelModules struct{}

func (KernelModules) Name() string { return "kmod" }
func (KernelModules) OS() string   { return "linux" }

var kmodPlace = place{
	prefix: "kmod", what: "modprobe.d install line", technique: "T1547.006",
	remedy: "Preserve %s, remove the install line (it runs whenever the module is requested), and remove what it runs.",
}

// isModuleName reports a kernel module file name (.ko, compressed or not).
func isModuleName(n string) bool {
	for _, s := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(n, s) && len(n) > len(s) {
			return true
		}
	}
	return false
}

// moduleName is the module a file name holds, as modprobe normalises it.
func moduleName(file string) string {
	n := path.Base(file)
	if i := strings.Index(n, ".ko"); i > 0 {
		n = n[:i]
	}
	return strings.ReplaceAll(n, "-", "_")
}

// isModuleContent: a module is an ELF relocatable object (e_type 1); a
// compressed one starts with the xz, zstd or gzip magic. Vim's Korean
// tutor (tutor.ko) is neither.
func isModuleContent(head []byte) bool {
	switch {
	case len(head) >= 18 && isELF(head):
		et := uint16(head[16]) | uint16(head[17])<<8
		if head[5] == 2 {
			et = uint16(head[16])<<8 | uint16(head[17])
		}
		return et == 1
	case strings.HasPrefix(string(head), "\xfd7zXZ\x00"), strings.HasPrefix(string(head), "\x28\xb5\x2f\xfd"), strings.HasPrefix(string(head), "\x1f\x8b"):
		return true
	}
	return false
}

func (c KernelModules) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	names, haveIndex := r.moduleTrees()
	writable := writableDirs(t)

	// Stray modules where droppers put them; the sweep hook covers the rest
	// of the image when the sweep runs.
	copies := p.list("kmod", "copy-dir")
	seen := map[string]bool{}
	for _, dir := range r.expandGlobsIn(p.list("kmod", "search-dir"), peopleHomes(t)) {
		r.walkFiles(dir, func(fp string, m *fsread.Meta) {
			if seen[fp] || !isModuleName(path.Base(fp)) || underAny(fp, copies) {
				return
			}
			seen[fp] = true
			if !isModuleContent(r.head(fp, 64)) {
				return
			}
			r.strayModule(fp, m, underAny(fp, writable) || hiddenPath(fp))
		})
		if check.Deadline(ctx) {
			return ctx.Err()
		}
	}

	// Boot-time lists: one module name a line.
	var lists []string
	lists = append(lists, p.list("kmod", "load-file")...)
	for _, d := range p.list("kmod", "load-dir") {
		for _, e := range r.readDirQuiet(d) {
			if strings.HasSuffix(e.Name(), ".conf") && !e.IsDir() {
				lists = append(lists, path.Join(d, e.Name()))
			}
		}
	}
	for _, lp := range lists {
		f := r.read(lp)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, l := range lines(f.Data) {
			s := strings.TrimSpace(l.Text)
			if s == "" || s[0] == '#' || s[0] == ';' {
				continue
			}
			mod := strings.Fields(s)[0]
			r.inventory("kernel-module-load", f.Path, l.N, mod, map[string]string{"module": mod})
			ev := at(f, l.N, l.Text)
			switch {
			case strings.Contains(mod, "/"):
				// Not a module name at all: systemd-modules-load would refuse it,
				// but a hand-made loader reading the list would not.
				r.emit("kmod.load-missing", ev, fmt.Sprintf("%s names %q, a path, where a module name belongs.", f.Evidence.Path, mod), "name", mod)
			case !haveIndex:
				r.emit("kmod.load-unverified", ev, fmt.Sprintf("%s loads %s at boot; the image has no modules.dep to check the name against.", f.Evidence.Path, mod), "name", mod)
			case !names[strings.ReplaceAll(mod, "-", "_")]:
				r.emit("kmod.load-missing", ev, fmt.Sprintf("%s loads %s at boot, but no installed kernel's modules.dep or modules.builtin has a module of that name.", f.Evidence.Path, mod), "name", mod)
			}
		}
	}

	// modprobe.d install/remove lines run a shell command.
	confs := append([]string{}, p.list("kmod", "modprobe-file")...)
	for _, d := range p.list("kmod", "modprobe-dir") {
		for _, e := range r.readDirQuiet(d) {
			if strings.HasSuffix(e.Name(), ".conf") && !e.IsDir() {
				confs = append(confs, path.Join(d, e.Name()))
			}
		}
	}
	ok := p.set("kmod", "install-ok")
	for _, cp := range confs {
		f := r.read(cp)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, l := range shellLines(f.Data) {
			fs := strings.Fields(l.Text)
			if len(fs) < 3 || (fs[0] != "install" && fs[0] != "remove") {
				continue
			}
			mod := fs[1]
			cmd := strings.TrimSpace(strings.SplitN(strings.TrimSpace(l.Text[len(fs[0]):]), mod, 2)[1])
			r.inventory("modprobe-command", f.Path, l.N, l.Text, map[string]string{"module": mod, "directive": fs[0], "command": cmd})
			ev := at(f, l.N, lineText(f.Data, l.N))
			if r.judged(kmodPlace, ev, cmd, JudgeCommand(cmd), "") {
				continue
			}
			if !installOK(cmd, ok) {
				r.emit("kmod.install-runs", ev, fmt.Sprintf("%s %s runs `%s`.", fs[0], mod, oneLine(cmd)), "name", mod, "cmd", cmd)
			}
		}
	}
	return ctx.Err()
}

// installOK: every command of the line is one that only blocks a module
// or chains to modprobe itself.
func installOK(cmd string, ok map[string]bool) bool {
	for _, part := range strings.FieldsFunc(cmd, func(r rune) bool { return r == ';' || r == '&' || r == '|' }) {
		fs := strings.Fields(part)
		if len(fs) > 0 && !ok[fs[0]] {
			return false
		}
	}
	return true
}

func (r *run) strayModule(fp string, m *fsread.Meta, writable bool) {
	name := moduleName(fp)
	r.inventory("kernel-module", fp, 0, name, map[string]string{"module": name, "where": "outside the module tree"})
	ev := r.metaEvidence(fp, m)
	if writable {
		r.emit("kmod.module-writable", ev, fmt.Sprintf("%s is a kernel module (ELF relocatable) in a directory unprivileged users can write or a hidden one; rootkit installers (Diamorphine, Reptile) build and insmod from such places.", ev.Path), "name", name)
		return
	}
	r.emit("kmod.stray-module", ev, fmt.Sprintf("%s is a kernel module outside /lib/modules/<version>/{kernel,updates,extra}.", ev.Path), "name", name)
}

// moduleTrees reads every installed kernel's module index (modules.dep,
// modules.builtin) and reports modules in non-standard parts of the tree.
// haveIndex is false when no kernel's index exists on the image.
func (r *run) moduleTrees() (names map[string]bool, haveIndex bool) {
	p := priv()
	std := p.set("kmod", "standard-subdir")
	names = map[string]bool{}
	seenRoot := map[string]bool{}
	for _, root := range p.list("kmod", "module-root") {
		real, ok := realPath(r.t.FS, root)
		if !ok || seenRoot[real] {
			continue
		}
		seenRoot[real] = true
		for _, ver := range r.readDirQuiet(root) {
			if !ver.IsDir() {
				continue
			}
			vdir := path.Join(root, ver.Name())
			indexed := false
			for _, idx := range []string{"modules.dep", "modules.builtin"} {
				f := r.read(path.Join(vdir, idx))
				if f == nil {
					continue
				}
				indexed = true
				for _, l := range lines(f.Data) {
					mf, _, _ := strings.Cut(l.Text, ":")
					if mf = strings.TrimSpace(mf); isModuleName(path.Base(mf)) {
						names[moduleName(mf)] = true
					}
				}
			}
			if !indexed {
				// No depmod output (an unpacked package, a trimmed image):
				// the modules on disk are the index.
				for s := range std {
					r.walkFiles(path.Join(vdir, s), func(fp string, _ *fsread.Meta) {
						if isModuleName(path.Base(fp)) {
							names[moduleName(fp)] = true
							indexed = true
						}
					})
				}
			}
			haveIndex = haveIndex || indexed
			for _, e := range r.readDirQuiet(vdir) {
				if std[e.Name()] {
					continue
				}
				sub := path.Join(vdir, e.Name())
				visit := func(fp string, m *fsread.Meta) {
					if !isModuleName(path.Base(fp)) {
						return
					}
					name := moduleName(fp)
					names[name] = true
					r.inventory("kernel-module", fp, 0, name, map[string]string{"module": name, "where": "non-standard part of " + vdir})
					r.emit("kmod.odd-subdir", r.metaEvidence(fp, m), fmt.Sprintf("%s is below %s but outside its kernel, updates and extra subtrees, where packages put modules.", fp, vdir), "name", name)
				}
				if e.IsDir() {
					r.walkFiles(sub, visit)
				} else if m, ok := r.lstat(sub); ok && m.Mode.IsRegular() {
					visit(sub, m)
				}
			}
		}
	}
	return names, haveIndex
}
