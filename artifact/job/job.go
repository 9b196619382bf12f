// Package job decodes legacy Task Scheduler 1.0 .job files (Windows\Tasks\
// *.job, written by at.exe, schtasks /v1 and the NetScheduleJobAdd API),
// following [MS-TSCH] 2.4 "Job File Format": a 68-byte fixed-length section,
// then the variable-length section (application, parameters, working
// directory, author, comment, user data, reserved data, triggers). Only what
// a persistence check needs is decoded; every length is checked against the
// file, so a hostile file costs at most its own size.
package job

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
)

// MaxSize bounds a .job file; real ones are well under 4 KiB.
const MaxSize = 1 << 20

const fixedSize = 0x44

// Task flags of the fixed-length section ([MS-TSCH] 2.4.1.1).
const (
	FlagInteractive = 0x1
	FlagDeleteDone  = 0x2
	FlagDisabled    = 0x4
	FlagHidden      = 0x200
	FlagRunLoggedOn = 0x2000
	FlagSystemReq   = 0x1000
)

// Trigger types ([MS-TSCH] 2.4.2.11).
var triggerNames = map[uint32]string{0: "once", 1: "daily", 2: "weekly", 3: "monthly-date", 4: "monthly-dow", 5: "idle", 6: "boot", 7: "logon"}

// Job is one decoded .job file.
type Job struct {
	ProductVersion   uint16
	FileVersion      uint16
	UUID             [16]byte
	Flags            uint32
	Status           uint32
	ExitCode         uint32
	LastRun          time.Time // zero when never run
	Application      string
	Parameters       string
	WorkingDirectory string
	Author           string
	Comment          string
	Triggers         []Trigger
}

// Trigger is one trigger of a job.
type Trigger struct {
	Type  string // once, daily, weekly, ..., boot, logon; or "type-N"
	Begin time.Time
	Hour  uint16
	Min   uint16
	Flags uint32
}

// Disabled says whether the job will not run.
func (j *Job) Disabled() bool { return j.Flags&FlagDisabled != 0 }

// Hidden says whether the job file is marked hidden.
func (j *Job) Hidden() bool { return j.Flags&FlagHidden != 0 }

// CommandLine is the application and its parameters as one line, the
// program quoted when it holds spaces.
func (j *Job) CommandLine() string {
	app := j.Application
	for _, c := range app {
		if c == ' ' {
			app = `"` + app + `"`
			break
		}
	}
	if j.Parameters != "" {
		return app + " " + j.Parameters
	}
	return app
}

var errShort = errors.New("job file truncated")

type reader struct {
	b   []byte
	off int
}

func (r *reader) u16() (uint16, error) {
	if r.off+2 > len(r.b) {
		return 0, errShort
	}
	v := binary.LittleEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

// str reads a count of UTF-16 characters (NUL included) and the characters.
func (r *reader) str(what string) (string, error) {
	n, err := r.u16()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if r.off+2*int(n) > len(r.b) {
		return "", fmt.Errorf("%s: %d characters run past the %d-byte file", what, n, len(r.b))
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(r.b[r.off+2*i:])
	}
	r.off += 2 * int(n)
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u)), nil
}

// skip reads a byte count and skips that many bytes.
func (r *reader) skip(what string) error {
	n, err := r.u16()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.off+int(n) > len(r.b) {
		return fmt.Errorf("%s: %d bytes run past the %d-byte file", what, n, len(r.b))
	}
	r.off += int(n)
	return nil
}

// Parse decodes a .job file. A file whose triggers are damaged still gives
// its command (with the error): the command is what matters.
func Parse(b []byte) (*Job, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("job file of %d bytes is larger than %d", len(b), MaxSize)
	}
	if len(b) < fixedSize+2 {
		return nil, fmt.Errorf("job file of %d bytes is shorter than its fixed-length section", len(b))
	}
	le := binary.LittleEndian
	j := &Job{ProductVersion: le.Uint16(b), FileVersion: le.Uint16(b[2:])}
	copy(j.UUID[:], b[4:20])
	j.ExitCode, j.Status, j.Flags = le.Uint32(b[40:]), le.Uint32(b[44:]), le.Uint32(b[48:])
	j.LastRun = systemTime(b[52:68])
	if j.FileVersion != 1 {
		return nil, fmt.Errorf("job file version %d (want 1): not a Task Scheduler 1.0 job", j.FileVersion)
	}
	appOff := int(le.Uint16(b[20:]))
	if appOff < fixedSize+2 || appOff >= len(b) {
		appOff = fixedSize + 2 // just past the running-instance count, where it always is
	}
	r := &reader{b: b, off: appOff}
	var err error
	for _, f := range []struct {
		dst  *string
		what string
	}{{&j.Application, "application name"}, {&j.Parameters, "parameters"}, {&j.WorkingDirectory, "working directory"}, {&j.Author, "author"}, {&j.Comment, "comment"}} {
		if *f.dst, err = r.str(f.what); err != nil {
			return j, fmt.Errorf("job file: %w", err)
		}
	}
	if err := r.skip("user data"); err != nil {
		return j, fmt.Errorf("job file: %w", err)
	}
	if err := r.skip("reserved data"); err != nil {
		return j, fmt.Errorf("job file: %w", err)
	}
	if t := int(le.Uint16(b[22:])); t >= r.off && t < len(b) {
		r.off = t
	}
	n, err := r.u16()
	if err != nil {
		return j, fmt.Errorf("job file: trigger count: %w", err)
	}
	for i := 0; i < int(n); i++ {
		if r.off+48 > len(b) {
			return j, fmt.Errorf("job file: trigger %d of %d runs past the file", i+1, n)
		}
		t := b[r.off : r.off+48]
		typ := le.Uint32(t[32:])
		name, ok := triggerNames[typ]
		if !ok {
			name = fmt.Sprintf("type-%d", typ)
		}
		j.Triggers = append(j.Triggers, Trigger{
			Type:  name,
			Begin: date(le.Uint16(t[4:]), le.Uint16(t[6:]), le.Uint16(t[8:])),
			Hour:  le.Uint16(t[16:]), Min: le.Uint16(t[18:]), Flags: le.Uint32(t[28:]),
		})
		r.off += 48
	}
	return j, nil
}

func date(y, m, d uint16) time.Time {
	if y < 1601 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}
	}
	return time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
}

// systemTime decodes a SYSTEMTIME (year, month, weekday, day, hour, minute,
// second, ms); an unset or impossible one is the zero time.
func systemTime(b []byte) time.Time {
	le := binary.LittleEndian
	y, mo, d := le.Uint16(b), le.Uint16(b[2:]), le.Uint16(b[6:])
	h, mi, s, ms := le.Uint16(b[8:]), le.Uint16(b[10:]), le.Uint16(b[12:]), le.Uint16(b[14:])
	t := date(y, mo, d)
	if t.IsZero() || h > 23 || mi > 59 || s > 59 || ms > 999 {
		return time.Time{}
	}
	return t.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond)
}

// Encode writes j as a .job file (no user data, reserved data or
// signature): the inverse of Parse for the fields Parse decodes, used to
// build test files and by the fuzz target's round trip.
func Encode(j *Job) []byte {
	le := binary.LittleEndian
	b := make([]byte, fixedSize+2)
	le.PutUint16(b, j.ProductVersion)
	le.PutUint16(b[2:], 1)
	copy(b[4:20], j.UUID[:])
	le.PutUint16(b[20:], fixedSize+2)
	le.PutUint32(b[40:], j.ExitCode)
	le.PutUint32(b[44:], j.Status)
	le.PutUint32(b[48:], j.Flags)
	if !j.LastRun.IsZero() {
		t := j.LastRun.UTC()
		for i, v := range []int{t.Year(), int(t.Month()), int(t.Weekday()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1e6} {
			le.PutUint16(b[52+2*i:], uint16(v))
		}
	}
	for _, s := range []string{j.Application, j.Parameters, j.WorkingDirectory, j.Author, j.Comment} {
		u := utf16.Encode([]rune(s))
		if len(s) > 0 {
			u = append(u, 0)
		}
		b = le.AppendUint16(b, uint16(len(u)))
		for _, c := range u {
			b = le.AppendUint16(b, c)
		}
	}
	b = le.AppendUint16(b, 0) // user data
	b = le.AppendUint16(b, 0) // reserved data
	le.PutUint16(b[22:], uint16(len(b)))
	b = le.AppendUint16(b, uint16(len(j.Triggers)))
	for _, t := range j.Triggers {
		tr := make([]byte, 48)
		le.PutUint16(tr, 48)
		if !t.Begin.IsZero() {
			le.PutUint16(tr[4:], uint16(t.Begin.Year()))
			le.PutUint16(tr[6:], uint16(t.Begin.Month()))
			le.PutUint16(tr[8:], uint16(t.Begin.Day()))
		}
		le.PutUint16(tr[16:], t.Hour)
		le.PutUint16(tr[18:], t.Min)
		le.PutUint32(tr[28:], t.Flags)
		typ := uint32(0xffff)
		for k, v := range triggerNames {
			if v == t.Type {
				typ = k
			}
		}
		fmt.Sscanf(t.Type, "type-%d", &typ)
		le.PutUint32(tr[32:], typ)
		b = append(b, tr...)
	}
	return b
}
