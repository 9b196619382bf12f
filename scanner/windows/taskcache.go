package windows

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/artifact/taskcache"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/scanner/check"
)

// TaskCache reads the scheduled tasks the Task Scheduler service itself
// runs: the registry records under Schedule\TaskCache. Their actions are
// judged like XML tasks, and the record is compared with the task's XML:
// a task hidden from schtasks (Tree key without SD, or Index 0), a record
// without XML file or Tree key, and actions that differ from the XML are
// findings (taskcache.txt).
type TaskCache struct{}

func (TaskCache) Name() string { return "taskcache" }
func (TaskCache) OS() string   { return "windows" }

const (
	taskCacheKey = `Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache`
	maxTreeDepth = 16
	maxTreeKeys  = 1 << 16
)

// treeEntry is a task's key under TaskCache\Tree.
type treeEntry struct {
	key      string // shown key
	hasSD    bool
	index    uint64
	hasIndex bool
}

func (c TaskCache) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	h := openFor(t, out, softwareHive)
	if h == nil {
		return nil
	}
	root, err := h.open(taskCacheKey)
	if err != nil {
		h.fail(out, t.Volume, "key "+taskCacheKey, err)
	}
	if root == nil {
		return nil
	}
	tree := map[string]treeEntry{} // by upper-case task id
	if k, _ := root.child("Tree"); k != nil {
		c.walkTree(t, out, h, k, `\`, 0, tree)
	}
	tasksKey, err := root.child("Tasks")
	if err != nil {
		h.fail(out, t.Volume, "key "+taskCacheKey+`\Tasks`, err)
	}
	if tasksKey == nil {
		return nil
	}
	subs, err := tasksKey.Subkeys()
	if err != nil {
		h.fail(out, t.Volume, "key "+taskCacheKey+`\Tasks`, err)
	}
	registered := map[string]bool{} // lower-case task path
	for _, s := range subs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		if p := c.task(r, t, out, h, s, tree); p != "" {
			registered[strings.ToLower(p)] = true
		}
	}
	if len(registered) > 0 {
		c.unregistered(r, t, out, h, registered)
	}
	return nil
}

func (c TaskCache) walkTree(t *check.Target, out check.Sink, h *hive, k *regKey, p string, depth int, tree map[string]treeEntry) {
	if depth > maxTreeDepth || len(tree) > maxTreeKeys {
		return
	}
	subs, err := k.Subkeys()
	if err != nil {
		h.fail(out, t.Volume, "key "+taskCacheKey+`\Tree`+p, err)
	}
	for _, s := range subs {
		sp := strings.TrimSuffix(p, `\`) + `\` + s.Name()
		vals, _ := s.Values()
		e := treeEntry{key: `HKLM\Software\` + taskCacheKey + `\Tree` + sp}
		id := ""
		for _, v := range vals {
			switch {
			case strings.EqualFold(v.Name, "Id"):
				id = strings.ToUpper(strings.TrimSpace(v.Text()))
			case strings.EqualFold(v.Name, "SD"):
				e.hasSD = len(v.Raw) > 0
			case strings.EqualFold(v.Name, "Index") && v.HasNum:
				e.index, e.hasIndex = v.Number, true
			}
		}
		if id != "" {
			tree[id] = e
		}
		c.walkTree(t, out, h, s, sp, depth+1, tree)
	}
}

// task reports one TaskCache\Tasks\{id} record and returns its task path.
func (c TaskCache) task(r *rules, t *check.Target, out check.Sink, h *hive, k *regKey, tree map[string]treeEntry) string {
	id := k.Name()
	base := `HKLM\Software\` + taskCacheKey + `\Tasks\` + id
	vals, err := k.Values()
	if err != nil {
		h.fail(out, t.Volume, base, err)
	}
	var taskPath string
	var blob []byte
	for _, v := range vals {
		switch {
		case strings.EqualFold(v.Name, "Path"):
			taskPath = strings.TrimSpace(v.Text())
		case strings.EqualFold(v.Name, "Actions"):
			blob = v.Raw
		}
	}
	if taskPath == "" {
		return ""
	}
	acts, err := taskcache.Parse(blob)
	if err != nil {
		h.fail(out, t.Volume, base+`\Actions`, err)
	}
	v := r.evasion.verdicts
	var common []hit
	add := func(rule, match string) {
		if hh, ok := v[rule].hit(match); ok {
			common = append(common, hh)
		}
	}
	te, inTree := tree[strings.ToUpper(id)]
	fields := map[string]string{"id": id, "last_write": fmtTime(k.LastWrite()), "format": "taskcache"}
	switch {
	case !inTree:
		add("no-tree", taskPath)
	default:
		fields["tree_key"] = te.key
		if !te.hasSD {
			add("no-sd", te.key+`\SD`)
			fields["hidden"] = "no SD"
		}
		if te.hasIndex && te.index == 0 {
			add("index-zero", te.key+`\Index`)
			fields["hidden"] = "Index 0"
		}
	}
	xmlExecs, xmlPath, hasXML := c.xmlActions(t, out, taskPath)
	if !hasXML {
		add("no-xml", "/"+path.Join(tasksDir, strings.ReplaceAll(strings.TrimPrefix(taskPath, `\`), `\`, "/")))
	} else {
		fields["xml"] = "/" + xmlPath
		var regExecs []string
		if acts != nil {
			for _, a := range acts.List {
				if a.Type == taskcache.TypeExec {
					regExecs = append(regExecs, normLine(a.CommandLine()))
				}
			}
		}
		sort.Strings(regExecs)
		if strings.Join(regExecs, "\n") != strings.Join(xmlExecs, "\n") {
			add("actions-differ", "XML: "+strings.Join(xmlExecs, " & "))
		}
	}
	if acts == nil || len(acts.List) == 0 {
		emit(r, c.Name(), out, entry{Place: "taskcache", Kind: "taskcache", Name: taskPath, Key: base, Command: "(no actions)", Ev: h.evidence, Fields: fields}, dedupe(common))
		return taskPath
	}
	for i, a := range acts.List {
		ef := map[string]string{}
		for k, v := range fields {
			ef[k] = v
		}
		e := entry{Place: "taskcache", Kind: "taskcache", Name: taskPath, Key: fmt.Sprintf(`%s\Actions[%d]`, base, i+1), Ev: h.evidence, Fields: ef}
		hits := append([]hit(nil), common...)
		switch a.Type {
		case taskcache.TypeExec:
			line := a.CommandLine()
			pc := r.parseCommand(line, "")
			e.Command, e.Target = line, pc.Exe
			ef["program"], ef["arguments"], ef["working_directory"] = pc.Exe, a.Arguments, a.WorkingDirectory
			hits = append(hits, r.judge(line, "", logonPlace)...)
		case taskcache.TypeComHandler:
			e.Command = "COM handler " + a.ClassID
			ef["class_id"] = a.ClassID
		default:
			e.Command = fmt.Sprintf("action type 0x%04x", a.Type)
		}
		emit(r, c.Name(), out, e, dedupe(hits))
	}
	return taskPath
}

func normLine(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// xmlActions reads the task's XML file and returns its exec command lines,
// normalised and sorted.
func (c TaskCache) xmlActions(t *check.Target, out check.Sink, taskPath string) ([]string, string, bool) {
	rel := path.Join(tasksDir, strings.ReplaceAll(strings.TrimPrefix(taskPath, `\`), `\`, "/"))
	p, err := resolveFold(t.FS, rel)
	if err != nil {
		return nil, "", false
	}
	f, err := check.ReadFileMax(t, p, maxTaskSize)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return nil, p, true
	}
	task, err := ParseTask(f.Data)
	if err != nil {
		return nil, p, true // the tasks check reports the broken file
	}
	var lines []string
	for _, e := range task.Execs {
		lines = append(lines, normLine(e.CommandLine()))
	}
	sort.Strings(lines)
	return lines, p, true
}

// unregistered reports task XML files the TaskCache does not know.
func (c TaskCache) unregistered(r *rules, t *check.Target, out check.Sink, h *hive, registered map[string]bool) {
	root, err := resolveFold(t.FS, tasksDir)
	if err != nil {
		return
	}
	fsread.Walk(t.FS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.EqualFold(path.Ext(p), ".job") {
			return nil
		}
		name := `\` + strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(p, root), "/"), "/", `\`)
		if registered[strings.ToLower(name)] {
			return nil
		}
		f, err := check.ReadFileMax(t, p, maxTaskSize)
		if err != nil {
			return nil
		}
		var hits []hit
		if hh, ok := r.evasion.verdicts["xml-unregistered"].hit(name); ok {
			hits = append(hits, hh)
		}
		emit(r, c.Name(), out, entry{Place: "taskcache", Kind: "taskcache", Name: name, Key: "TaskCache", Command: name, Ev: f.Evidence,
			Says: fmt.Sprintf("Task file %s has no TaskCache record", name), Fields: map[string]string{"format": "xml", "registered": "false"}}, hits)
		return nil
	})
}
