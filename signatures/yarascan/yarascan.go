// Package yarascan compiles snapscan's embedded YARA rules together with the
// user's (--rules), lists and checks them, and scans buffers with them. It is
// the only cgo package of the signatures tree: the Linux and Windows checks
// import signatures for data and need no libyara.
//
// libyara 4.2 (Debian bookworm) through github.com/hillu/go-yara/v4 v4.2.4.
// One Rules value is shared by all workers; each worker owns a Scanner.
package yarascan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	yara "github.com/hillu/go-yara/v4"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
)

// Externals are the variables LOKI (and THOR) define for every scanned
// file; declaring them lets public rule sets that test file names or paths
// compile unchanged. All are strings, set per file by the scanner.
var Externals = []string{"filename", "filepath", "extension", "filetype", "md5", "owner"}

// EmbeddedNamespace holds the rules shipped in the binary.
const EmbeddedNamespace = "snapscan"

// EmbeddedSource is RuleInfo.Source of the embedded rules.
const EmbeddedSource = "embedded"

// compiledMagic starts a file written by yarac or yr_rules_save.
var compiledMagic = []byte("YARA")

// maxRuleFile caps a rule source we read ourselves (embedded files and the
// sniffing of user files); libyara reads user sources by descriptor.
const maxRuleFile = 64 << 20

// Options selects the rules to compile.
type Options struct {
	// Paths are the user's --rules arguments: rule files (source, or
	// compiled by yarac) or directories searched recursively for *.yar,
	// *.yara (source) and *.yarc, *.yac (compiled).
	Paths []string
	// NoEmbedded leaves out snapscan's own rules.
	NoEmbedded bool
	// Sources are rules snapscan makes from data (the C2 IOC list as
	// YARA: signatures.IOCs.C2YARA), by name; each gets its own namespace.
	Sources map[string]string
}

// Diagnostic is one compile error or warning, with where it is.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Level   string `json:"level"` // "error" or "warning"
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	loc := d.File
	if d.Line > 0 {
		loc = fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	if d.Rule != "" {
		return fmt.Sprintf("%s: %s: rule %s: %s", loc, d.Level, d.Rule, d.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, d.Level, d.Message)
}

// Errors reports whether any diagnostic is an error.
func Errors(ds []Diagnostic) bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Level == "error" })
}

// ruleSet is one compiled yara.Rules: all sources together, or one file
// compiled by yarac (compiled files cannot be merged).
type ruleSet struct {
	rules  *yara.Rules
	source string // "" for the merged sources
}

// Rules is a compiled rule collection. It is safe for concurrent use; scan
// through per-goroutine Scanners.
type Rules struct {
	sets  []ruleSet
	infos []RuleInfo
	index map[string]int // namespace + "\x00" + name -> infos index
}

// ruleFile is a user rule file with its kind.
type ruleFile struct {
	path     string
	compiled bool
}

// Embedded returns the names and contents of the embedded rule files, in
// name order.
func Embedded() ([]string, [][]byte, error) {
	ents, err := fs.ReadDir(signatures.Files, "yara")
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var data [][]byte
	for _, e := range ents {
		if e.IsDir() || !isSourceName(e.Name()) {
			continue
		}
		b, err := fs.ReadFile(signatures.Files, path.Join("yara", e.Name()))
		if err != nil {
			return nil, nil, err
		}
		names = append(names, "yara/"+e.Name())
		data = append(data, b)
	}
	return names, data, nil
}

func isSourceName(n string) bool {
	ext := strings.ToLower(filepath.Ext(n))
	return ext == ".yar" || ext == ".yara"
}

func isCompiledName(n string) bool {
	ext := strings.ToLower(filepath.Ext(n))
	return ext == ".yarc" || ext == ".yac"
}

// expand turns --rules arguments into rule files. A file named explicitly is
// sniffed for the compiled-rules magic; in directories, the extension decides.
func expand(paths []string) ([]ruleFile, []Diagnostic) {
	var out []ruleFile
	var diags []Diagnostic
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			diags = append(diags, Diagnostic{File: p, Level: "error", Message: err.Error()})
			continue
		}
		if !st.IsDir() {
			c, err := sniffCompiled(p)
			if err != nil {
				diags = append(diags, Diagnostic{File: p, Level: "error", Message: err.Error()})
				continue
			}
			out = append(out, ruleFile{p, c})
			continue
		}
		var found []ruleFile
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				diags = append(diags, Diagnostic{File: name, Level: "error", Message: err.Error()})
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			switch {
			case isSourceName(name):
				found = append(found, ruleFile{name, false})
			case isCompiledName(name):
				found = append(found, ruleFile{name, true})
			}
			return nil
		})
		if err != nil {
			diags = append(diags, Diagnostic{File: p, Level: "error", Message: err.Error()})
		}
		sort.Slice(found, func(i, j int) bool { return found[i].path < found[j].path })
		out = append(out, found...)
	}
	return out, diags
}

func sniffCompiled(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(compiledMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	return bytes.Equal(head[:n], compiledMagic), nil
}

func newCompiler() (*yara.Compiler, error) {
	c, err := yara.NewCompiler()
	if err != nil {
		return nil, err
	}
	for _, v := range Externals {
		if err := c.DefineVariable(v, ""); err != nil {
			c.Destroy()
			return nil, fmt.Errorf("yara: define %s: %w", v, err)
		}
	}
	return c, nil
}

// collect turns the compiler's messages since errs/warns into diagnostics;
// file names the source when libyara has none (a string).
func collect(c *yara.Compiler, errs, warns int, file string) []Diagnostic {
	var out []Diagnostic
	conv := func(ms []yara.CompilerMessage, level string) {
		for _, m := range ms {
			d := Diagnostic{File: m.Filename, Line: m.Line, Level: level, Message: m.Text}
			if d.File == "" {
				d.File = file
			}
			if m.Rule != nil {
				d.Rule = m.Rule.Identifier()
			}
			out = append(out, d)
		}
	}
	conv(c.Errors[errs:], "error")
	conv(c.Warnings[warns:], "warning")
	return out
}

// addSource adds one source to c and returns its diagnostics.
func addSource(c *yara.Compiler, file string, embedded []byte, ns string) []Diagnostic {
	e, w := len(c.Errors), len(c.Warnings)
	var err error
	if embedded != nil {
		err = c.AddString(string(embedded), ns)
	} else {
		var f *os.File
		f, err = os.Open(file)
		if err != nil {
			return []Diagnostic{{File: file, Level: "error", Message: err.Error()}}
		}
		err = c.AddFile(f, ns)
		f.Close()
	}
	ds := collect(c, e, w, file)
	if err != nil && !Errors(ds) {
		ds = append(ds, Diagnostic{File: file, Level: "error", Message: err.Error()})
	}
	return ds
}

// Compile compiles the embedded rules and the user's. Warnings come back as
// diagnostics with a nil error; any compile error fails the whole set (a
// half-loaded rule set would silently scan less than the analyst asked),
// and then the diagnostics name every broken file and line.
func Compile(opts Options) (*Rules, []Diagnostic, error) {
	files, diags := expand(opts.Paths)
	if Errors(diags) {
		return nil, diags, fmt.Errorf("yara: cannot read rules: %s", firstError(diags))
	}
	c, err := newCompiler()
	if err != nil {
		return nil, diags, err
	}
	defer c.Destroy()
	sources := map[string]string{} // namespace -> RuleInfo.Source
	nsrc := 0
	if !opts.NoEmbedded {
		names, data, err := Embedded()
		if err != nil {
			return nil, diags, fmt.Errorf("yara: embedded rules: %w", err)
		}
		for i := range names {
			ds := addSource(c, "embedded:"+names[i], data[i], EmbeddedNamespace)
			diags = append(diags, ds...)
			if Errors(ds) {
				return nil, diags, fmt.Errorf("yara: embedded rules do not compile: %s", firstError(ds))
			}
			nsrc++
		}
		sources[EmbeddedNamespace] = EmbeddedSource
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Sources)) {
		if opts.Sources[name] == "" {
			continue
		}
		ds := addSource(c, name, []byte(opts.Sources[name]), name)
		diags = append(diags, ds...)
		if Errors(ds) {
			return nil, diags, fmt.Errorf("yara: %s: %s", name, firstError(ds))
		}
		sources[name] = name
		nsrc++
	}
	var compiled []ruleFile
	for _, f := range files {
		if f.compiled {
			compiled = append(compiled, f)
			continue
		}
		// One namespace per file: public collections reuse rule names.
		ds := addSource(c, f.path, nil, f.path)
		diags = append(diags, ds...)
		if Errors(ds) {
			// libyara refuses further input after an error; check the rest
			// on their own so the analyst sees every broken file at once.
			rest := Check(remaining(files, f))
			diags = append(diags, rest...)
			return nil, diags, fmt.Errorf("yara: %s", firstError(ds))
		}
		sources[f.path] = f.path
		nsrc++
	}
	r := &Rules{index: map[string]int{}}
	if nsrc > 0 {
		yr, err := c.GetRules()
		if err != nil {
			return nil, diags, fmt.Errorf("yara: %w", err)
		}
		r.add(yr, "", sources)
	}
	for _, f := range compiled {
		yr, err := yara.LoadRules(f.path)
		if err != nil {
			diags = append(diags, Diagnostic{File: f.path, Level: "error", Message: "loading compiled rules: " + err.Error()})
			return nil, diags, fmt.Errorf("yara: %s: %w", f.path, err)
		}
		r.add(yr, f.path, nil)
	}
	return r, diags, nil
}

func remaining(files []ruleFile, after ruleFile) []string {
	var out []string
	seen := false
	for _, f := range files {
		if seen && !f.compiled {
			out = append(out, f.path)
		}
		if f == after {
			seen = true
		}
	}
	return out
}

func firstError(ds []Diagnostic) string {
	for _, d := range ds {
		if d.Level == "error" {
			return d.String()
		}
	}
	return "unknown error"
}

func (r *Rules) add(yr *yara.Rules, file string, sources map[string]string) {
	r.sets = append(r.sets, ruleSet{rules: yr, source: file})
	for _, rule := range yr.GetRules() {
		ri := RuleInfo{Name: rule.Identifier(), Namespace: rule.Namespace(), Tags: rule.Tags(), Meta: map[string]string{}}
		if rule.IsPrivate() {
			continue // helpers of other rules; they never report
		}
		for _, m := range rule.Metas() {
			if _, dup := ri.Meta[m.Identifier]; !dup {
				ri.Meta[m.Identifier] = metaString(m.Value)
			}
		}
		ri.Source = file
		if file == "" {
			ri.Source = sources[ri.Namespace]
		}
		ri.interpret()
		r.index[ri.Namespace+"\x00"+ri.Name] = len(r.infos)
		r.infos = append(r.infos, ri)
		report.RegisterRules(ri.Describe())
	}
}

// Describe is the rule as the report's rule catalogue (SARIF) shows it:
// finding rule "yara.NAME", from the rule's own meta.
func (ri RuleInfo) Describe() report.RuleInfo {
	id := "yara." + ri.Name
	short := ri.Description
	if short == "" {
		short = "YARA rule " + ri.Name + " matched"
	}
	full := short
	if ri.Family != "" {
		full += " (family " + ri.Family + ")"
	}
	if ri.Source != "" {
		full += ". Rule " + ri.Name + " from " + ri.Source + "."
	}
	if ri.Reference != "" {
		full += " Reference: " + ri.Reference
	}
	help := ri.Remediation
	if help == "" {
		help = "Preserve the file (hashes in the evidence), find what starts or reads it (cron, systemd, rc, Run keys, services, tasks) and remove both by hand."
	}
	return report.RuleInfo{ID: id, Name: report.RuleName(id), Short: short, Full: full, Help: help,
		Severity: ri.Severity, Technique: ri.Technique}
}

// List returns every public rule, in compile order.
func (r *Rules) List() []RuleInfo { return slices.Clone(r.infos) }

// Len is the number of public rules.
func (r *Rules) Len() int { return len(r.infos) }

// Info looks a rule up by namespace and name.
func (r *Rules) Info(namespace, name string) (RuleInfo, bool) {
	i, ok := r.index[namespace+"\x00"+name]
	if !ok {
		return RuleInfo{}, false
	}
	return r.infos[i], true
}

// Check compiles each rule file on its own (all externals declared) and
// returns every error and warning with file and line. With no paths it
// checks the embedded rules. Directories are searched as in Compile;
// compiled files are loaded to see that this libyara accepts them.
func Check(paths []string) []Diagnostic {
	if len(paths) == 0 {
		names, data, err := Embedded()
		if err != nil {
			return []Diagnostic{{File: "embedded", Level: "error", Message: err.Error()}}
		}
		c, err := newCompiler()
		if err != nil {
			return []Diagnostic{{File: "embedded", Level: "error", Message: err.Error()}}
		}
		defer c.Destroy()
		var out []Diagnostic
		for i := range names {
			ds := addSource(c, "embedded:"+names[i], data[i], EmbeddedNamespace)
			out = append(out, ds...)
			if Errors(ds) {
				break
			}
		}
		return out
	}
	files, diags := expand(paths)
	for _, f := range files {
		if f.compiled {
			if _, err := yara.LoadRules(f.path); err != nil {
				diags = append(diags, Diagnostic{File: f.path, Level: "error", Message: "loading compiled rules: " + err.Error()})
			}
			continue
		}
		c, err := newCompiler()
		if err != nil {
			diags = append(diags, Diagnostic{File: f.path, Level: "error", Message: err.Error()})
			continue
		}
		diags = append(diags, addSource(c, f.path, nil, f.path)...)
		c.Destroy()
	}
	return diags
}

// ErrNoRules is returned by NewScanner for an empty rule set.
var ErrNoRules = errors.New("yara: no rules")

// List compiles the rules opts selects and lists them, for `snapscan rules
// list`; the diagnostics are Compile's.
func List(opts Options) ([]RuleInfo, []Diagnostic, error) {
	r, diags, err := Compile(opts)
	if err != nil {
		return nil, diags, err
	}
	return r.List(), diags, nil
}
