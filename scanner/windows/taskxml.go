package windows

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Task is one scheduled task definition (Task Scheduler 2.0 XML), the typed
// record before judgement.
type Task struct {
	URI         string
	Author      string
	Description string
	Hidden      bool
	Enabled     bool // Settings/Enabled; a task is enabled unless it says false
	Principals  []TaskPrincipal
	Context     string // Actions/@Context: the principal the actions run as
	Triggers    []TaskTrigger
	Execs       []TaskExec
	ComHandlers []string // class ids
}

// TaskPrincipal is who a task runs as.
type TaskPrincipal struct {
	ID        string
	UserID    string
	GroupID   string
	RunLevel  string // LeastPrivilege, HighestAvailable
	LogonType string
}

// TaskTrigger is one trigger: its element name (BootTrigger, LogonTrigger,
// TimeTrigger, CalendarTrigger, ...) and the user a logon trigger is for.
type TaskTrigger struct {
	Type    string
	UserID  string
	Enabled bool
}

// TaskExec is one Exec action.
type TaskExec struct {
	Command          string
	Arguments        string
	WorkingDirectory string
}

// CommandLine is the action as one command line, the program quoted when it
// holds spaces so it splits the way Task Scheduler starts it.
func (e TaskExec) CommandLine() string {
	cmd := strings.TrimSpace(e.Command)
	if strings.ContainsRune(cmd, ' ') && !strings.HasPrefix(cmd, `"`) {
		cmd = `"` + cmd + `"`
	}
	if a := strings.TrimSpace(e.Arguments); a != "" {
		return cmd + " " + a
	}
	return cmd
}

// RunAs names the account of the principal the actions use.
func (t *Task) RunAs() (TaskPrincipal, bool) {
	for _, p := range t.Principals {
		if t.Context == "" || p.ID == t.Context {
			return p, true
		}
	}
	if len(t.Principals) > 0 {
		return t.Principals[0], true
	}
	return TaskPrincipal{}, false
}

type xmlTask struct {
	XMLName          xml.Name `xml:"Task"`
	RegistrationInfo struct {
		URI         string `xml:"URI"`
		Author      string `xml:"Author"`
		Description string `xml:"Description"`
	} `xml:"RegistrationInfo"`
	Triggers struct {
		Any []struct {
			XMLName xml.Name
			UserID  string `xml:"UserId"`
			Enabled string `xml:"Enabled"`
		} `xml:",any"`
	} `xml:"Triggers"`
	Principals struct {
		Principal []struct {
			ID        string `xml:"id,attr"`
			UserID    string `xml:"UserId"`
			GroupID   string `xml:"GroupId"`
			RunLevel  string `xml:"RunLevel"`
			LogonType string `xml:"LogonType"`
		} `xml:"Principal"`
	} `xml:"Principals"`
	Settings struct {
		Hidden  string `xml:"Hidden"`
		Enabled string `xml:"Enabled"`
	} `xml:"Settings"`
	Actions struct {
		Context string `xml:"Context,attr"`
		Exec    []struct {
			Command          string `xml:"Command"`
			Arguments        string `xml:"Arguments"`
			WorkingDirectory string `xml:"WorkingDirectory"`
		} `xml:"Exec"`
		ComHandler []struct {
			ClassID string `xml:"ClassId"`
		} `xml:"ComHandler"`
	} `xml:"Actions"`
}

// maxTaskSize bounds one task file; real ones are a few KiB.
const maxTaskSize = 1 << 20

var errNotTask = errors.New("not a Task Scheduler XML document")

// ParseTask parses a task file: UTF-16LE/BE with BOM (what Windows writes),
// UTF-8 with or without BOM, or UTF-16LE without BOM.
func ParseTask(data []byte) (*Task, error) {
	if len(data) > maxTaskSize {
		return nil, fmt.Errorf("task file larger than %d bytes", maxTaskSize)
	}
	text, err := taskText(data)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(text))
	// The bytes are UTF-8 by now whatever the declaration says.
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported task file encoding %q", label)
	}
	var x xmlTask
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("task XML: %w", err)
	}
	if x.XMLName.Local != "Task" {
		return nil, errNotTask
	}
	t := &Task{
		URI:         strings.TrimSpace(x.RegistrationInfo.URI),
		Author:      strings.TrimSpace(x.RegistrationInfo.Author),
		Description: strings.TrimSpace(x.RegistrationInfo.Description),
		Hidden:      xmlBool(x.Settings.Hidden, false),
		Enabled:     xmlBool(x.Settings.Enabled, true),
		Context:     strings.TrimSpace(x.Actions.Context),
	}
	for _, p := range x.Principals.Principal {
		t.Principals = append(t.Principals, TaskPrincipal{
			ID: strings.TrimSpace(p.ID), UserID: strings.TrimSpace(p.UserID), GroupID: strings.TrimSpace(p.GroupID),
			RunLevel: strings.TrimSpace(p.RunLevel), LogonType: strings.TrimSpace(p.LogonType),
		})
	}
	for _, tr := range x.Triggers.Any {
		t.Triggers = append(t.Triggers, TaskTrigger{Type: tr.XMLName.Local, UserID: strings.TrimSpace(tr.UserID), Enabled: xmlBool(tr.Enabled, true)})
	}
	for _, e := range x.Actions.Exec {
		t.Execs = append(t.Execs, TaskExec{Command: strings.TrimSpace(e.Command), Arguments: strings.TrimSpace(e.Arguments), WorkingDirectory: strings.TrimSpace(e.WorkingDirectory)})
	}
	for _, c := range x.Actions.ComHandler {
		t.ComHandlers = append(t.ComHandlers, strings.TrimSpace(c.ClassID))
	}
	return t, nil
}

func xmlBool(s string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	return def
}

// taskText decodes a task file to UTF-8. A BOM decides; without one, a NUL
// in the second byte means UTF-16LE (Windows always writes a BOM, tools that
// copy tasks do not).
func taskText(data []byte) ([]byte, error) {
	fallback := unicode.UTF8.NewDecoder()
	if len(data) >= 2 && data[0] != 0 && data[1] == 0 {
		fallback = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder()
	}
	out, _, err := transform.Bytes(unicode.BOMOverride(fallback), data)
	if err != nil {
		return nil, fmt.Errorf("task file encoding: %w", err)
	}
	return out, nil
}
