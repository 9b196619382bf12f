package windows

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/snapscan/snapscan/artifact/job"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/scanner/check"
)

const (
	tasksDir  = "Windows/System32/Tasks"
	legacyDir = "Windows/Tasks" // Task Scheduler 1.0 .job files (at.exe, schtasks /v1, NetScheduleJobAdd)
)

// Tasks reports every Exec action of every scheduled task under
// System32\Tasks, with who it runs as and what triggers it.
type Tasks struct{}

func (Tasks) Name() string { return "tasks" }
func (Tasks) OS() string   { return "windows" }

// wellKnownSIDs names the accounts tasks usually run as.
var wellKnownSIDs = map[string]string{
	"S-1-5-18": "SYSTEM", "S-1-5-19": "LOCAL SERVICE", "S-1-5-20": "NETWORK SERVICE",
	"S-1-5-32-544": "Administrators", "S-1-5-32-545": "Users", "S-1-5-4": "INTERACTIVE", "S-1-1-0": "Everyone",
}

func (c Tasks) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	if err := c.legacyJobs(ctx, r, t, out); err != nil {
		return err
	}
	root, err := resolveFold(t.FS, tasksDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			out.Error("/"+tasksDir, fmt.Errorf("%s: %w", t.Volume, err))
		}
		return nil
	}
	return fsread.Walk(t.FS, root, func(p string, d fs.DirEntry, err error) error {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		if err != nil {
			out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		c.task(r, t, out, root, p)
		return nil
	})
}

func (c Tasks) task(r *rules, t *check.Target, out check.Sink, root, p string) {
	if info, err := fs.Stat(t.FS, p); err == nil && info.Size() > maxTaskSize {
		out.Error("/"+p, fmt.Errorf("%s: task file of %d bytes is larger than any task definition; not parsed", t.Volume, info.Size()))
		return
	}
	if strings.EqualFold(path.Ext(p), ".job") {
		c.job(r, t, out, p)
		return
	}
	f, err := check.ReadFile(t, p)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	task, err := ParseTask(f.Data)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	name := `\` + strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(p, root), "/"), "/", `\`)
	fields := map[string]string{"uri": task.URI, "author": task.Author}
	if task.Hidden {
		fields["hidden"] = "true"
	}
	if !task.Enabled {
		fields["enabled"] = "false"
	}
	user := ""
	if pr, ok := task.RunAs(); ok {
		acct := pr.UserID
		if acct == "" {
			acct = pr.GroupID
		}
		if n, ok := wellKnownSIDs[strings.ToUpper(acct)]; ok {
			acct = n + " (" + acct + ")"
		}
		fields["run_as"], fields["run_level"], fields["logon_type"] = acct, pr.RunLevel, pr.LogonType
		user = profileOf(pr.UserID)
	}
	var trig []string
	for _, tr := range task.Triggers {
		s := tr.Type
		if tr.UserID != "" {
			s += "(" + tr.UserID + ")"
		}
		if !tr.Enabled {
			s += "[disabled]"
		}
		trig = append(trig, s)
	}
	fields["triggers"] = strings.Join(trig, ",")
	if len(task.ComHandlers) > 0 {
		fields["com_handlers"] = strings.Join(task.ComHandlers, ",")
	}
	for i, ex := range task.Execs {
		line := ex.CommandLine()
		if line == "" {
			continue
		}
		ef := map[string]string{"arguments": ex.Arguments, "working_directory": ex.WorkingDirectory}
		for k, v := range fields {
			ef[k] = v
		}
		pc := r.parseCommand(line, user)
		ef["program"] = pc.Exe
		e := entry{
			Place: "task", Kind: "task", Name: name, Key: fmt.Sprintf("Actions/Exec[%d]", i+1),
			Command: line, Target: pc.Exe, User: user, Ev: f.Evidence, Fields: ef,
		}
		emit(r, c.Name(), out, e, r.judge(line, user, logonPlace))
	}
	// COM handler actions run a registered class, not a command line: they
	// are listed so the inventory is complete, not judged.
	for i, clsid := range task.ComHandlers {
		ef := map[string]string{"class_id": clsid}
		for k, v := range fields {
			ef[k] = v
		}
		emit(r, c.Name(), out, entry{
			Place: "task", Kind: "task", Name: name, Key: fmt.Sprintf("Actions/ComHandler[%d]", i+1),
			Command: "COM handler " + clsid, User: user, Ev: f.Evidence, Fields: ef,
		}, nil)
	}
}

// profileOf guesses the profile folder of a task's account ("DOMAIN\alice"
// or "alice"), so %APPDATA% and friends expand to that user's folders. SIDs
// and service accounts give "" (unknown).
func profileOf(userID string) string {
	u := strings.TrimSpace(userID)
	if u == "" || strings.HasPrefix(strings.ToUpper(u), "S-1-") {
		return ""
	}
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	switch strings.ToUpper(u) {
	case "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "LOCALSERVICE", "NETWORKSERVICE", "USERS", "ADMINISTRATORS", "INTERACTIVE", "EVERYONE":
		return ""
	}
	return u
}

// legacyJobs judges the .job files of the legacy tasks folder.
func (c Tasks) legacyJobs(ctx context.Context, r *rules, t *check.Target, out check.Sink) error {
	dir, err := resolveFold(t.FS, legacyDir)
	if err != nil {
		return nil
	}
	ents, err := fs.ReadDir(t.FS, dir)
	if err != nil {
		out.Error("/"+dir, fmt.Errorf("%s: %w", t.Volume, err))
		return nil
	}
	for _, e := range ents {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		if e.Type().IsRegular() && strings.EqualFold(path.Ext(e.Name()), ".job") {
			c.job(r, t, out, path.Join(dir, e.Name()))
		}
	}
	return nil
}

// job judges a Task Scheduler 1.0 .job file like an XML task's Exec action.
func (c Tasks) job(r *rules, t *check.Target, out check.Sink, p string) {
	f, err := check.ReadFileMax(t, p, job.MaxSize)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	}
	j, err := job.Parse(f.Data)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		if j == nil || j.Application == "" {
			return
		}
	}
	var trig []string
	for _, tr := range j.Triggers {
		trig = append(trig, tr.Type)
	}
	line := j.CommandLine()
	pc := r.parseCommand(line, "")
	fields := map[string]string{"format": "job", "author": j.Author, "comment": j.Comment, "working_directory": j.WorkingDirectory,
		"triggers": strings.Join(trig, ","), "last_run": fmtTime(j.LastRun), "program": pc.Exe, "arguments": j.Parameters}
	if j.Hidden() {
		fields["hidden"] = "true"
	}
	if j.Disabled() {
		fields["enabled"] = "false"
	}
	e := entry{Place: "task", Kind: "task", Name: path.Base(p), Key: "Job/Application", Command: line, Target: pc.Exe, Ev: f.Evidence, Fields: fields}
	emit(r, c.Name(), out, e, r.judge(line, "", logonPlace))
}
