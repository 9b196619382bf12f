// Package taskcache decodes the Actions value of a scheduled task's registry
// record (SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\
// Tasks\{GUID}\Actions): the Task Scheduler service runs what this blob says,
// whether or not the task's XML file under System32\Tasks still agrees.
//
// Layout (as the Task Scheduler writes it; documented by G DATA's
// winreg-tasks structure definitions): a u16 version (1, 2 or 3); for version
// 3 a context string (the principal id); then actions to the end, each a u16
// type magic, an id string and the type's properties. Strings are a u32 byte
// length and that many bytes of UTF-16LE. Exec actions (0x6666) hold command,
// arguments and working directory (and, in version 3, u16 flags); COM handler
// actions (0x7777) a class id and a data string; e-mail (0x8888) and message
// box (0x9999) actions are recognised and skipped.
package taskcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// MaxActions bounds the actions decoded from one blob, and MaxSize the blob.
const (
	MaxActions = 256
	MaxSize    = 1 << 20
)

// Action types (the magic before each action).
const (
	TypeExec       = 0x6666
	TypeComHandler = 0x7777
	TypeEmail      = 0x8888
	TypeMessageBox = 0x9999
)

// Actions is a decoded Actions value.
type Actions struct {
	Version uint16
	Context string
	List    []Action
}

// Action is one action.
type Action struct {
	Type             uint16
	ID               string
	Command          string // exec
	Arguments        string
	WorkingDirectory string
	Flags            uint16
	ClassID          string // COM handler: {XXXXXXXX-XXXX-...}
	Data             string
}

// CommandLine is an exec action as one command line, the program quoted
// when it holds spaces.
func (a Action) CommandLine() string {
	cmd := strings.TrimSpace(a.Command)
	if strings.ContainsRune(cmd, ' ') && !strings.HasPrefix(cmd, `"`) {
		cmd = `"` + cmd + `"`
	}
	if s := strings.TrimSpace(a.Arguments); s != "" {
		return cmd + " " + s
	}
	return cmd
}

var errShort = errors.New("truncated")

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

func (r *reader) bstr() (string, error) {
	if r.off+4 > len(r.b) {
		return "", errShort
	}
	n := int64(binary.LittleEndian.Uint32(r.b[r.off:]))
	r.off += 4
	if n > int64(len(r.b)-r.off) {
		return "", fmt.Errorf("string of %d bytes runs past the %d-byte blob", n, len(r.b))
	}
	raw := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u)), nil
}

// Parse decodes an Actions blob. The actions decoded before a damaged one
// are returned with the error.
func Parse(b []byte) (*Actions, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("task actions: %d bytes, more than %d", len(b), MaxSize)
	}
	r := &reader{b: b}
	v, err := r.u16()
	if err != nil {
		return nil, fmt.Errorf("task actions: version: %w", err)
	}
	if v < 1 || v > 3 {
		return nil, fmt.Errorf("task actions: unknown version %d", v)
	}
	a := &Actions{Version: v}
	if v == 3 {
		if a.Context, err = r.bstr(); err != nil {
			return a, fmt.Errorf("task actions: context: %w", err)
		}
	}
	for r.off < len(b) {
		if len(a.List) >= MaxActions {
			return a, fmt.Errorf("task actions: more than %d actions", MaxActions)
		}
		act, err := r.action(v)
		if err != nil {
			return a, fmt.Errorf("task actions: action %d: %w", len(a.List)+1, err)
		}
		a.List = append(a.List, act)
	}
	return a, nil
}

func (r *reader) action(version uint16) (Action, error) {
	var a Action
	var err error
	if a.Type, err = r.u16(); err != nil {
		return a, err
	}
	if a.ID, err = r.bstr(); err != nil {
		return a, err
	}
	strs := func(dst ...*string) error {
		for _, d := range dst {
			if *d, err = r.bstr(); err != nil {
				return err
			}
		}
		return nil
	}
	switch a.Type {
	case TypeExec:
		if err := strs(&a.Command, &a.Arguments, &a.WorkingDirectory); err != nil {
			return a, err
		}
		if version == 3 {
			a.Flags, err = r.u16()
		}
		return a, err
	case TypeComHandler:
		if r.off+16 > len(r.b) {
			return a, errShort
		}
		a.ClassID = guid(r.b[r.off : r.off+16])
		r.off += 16
		return a, strs(&a.Data)
	case TypeEmail:
		var s string
		for i := 0; i < 8; i++ { // from, to, cc, bcc, reply-to, server, subject, body
			if err := strs(&s); err != nil {
				return a, err
			}
		}
		for _, per := range []int{1, 2} { // attachments, then headers (key, value)
			if r.off+4 > len(r.b) {
				return a, errShort
			}
			n := int(binary.LittleEndian.Uint32(r.b[r.off:]))
			r.off += 4
			if n > (len(r.b)-r.off)/4 {
				return a, fmt.Errorf("%d e-mail entries in a %d-byte blob", n, len(r.b))
			}
			for i := 0; i < n*per; i++ {
				if err := strs(&s); err != nil {
					return a, err
				}
			}
		}
		return a, nil
	case TypeMessageBox:
		var s string
		return a, strs(&s, &s)
	}
	return a, fmt.Errorf("unknown action type 0x%04x", a.Type)
}

// guid formats a little-endian GUID as Windows writes it.
func guid(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// Encode writes exec and COM handler actions as an Actions blob of the given
// version: the inverse of Parse for those, used to plant test tasks and by
// the fuzz target's round trip.
func Encode(a *Actions) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, a.Version)
	str := func(s string) {
		u := utf16.Encode([]rune(s))
		b = le.AppendUint32(b, uint32(2*len(u)))
		for _, c := range u {
			b = le.AppendUint16(b, c)
		}
	}
	if a.Version == 3 {
		str(a.Context)
	}
	for _, act := range a.List {
		switch act.Type {
		case TypeExec:
			b = le.AppendUint16(b, act.Type)
			str(act.ID)
			str(act.Command)
			str(act.Arguments)
			str(act.WorkingDirectory)
			if a.Version == 3 {
				b = le.AppendUint16(b, act.Flags)
			}
		case TypeComHandler:
			b = le.AppendUint16(b, act.Type)
			str(act.ID)
			var g [16]byte
			var d1 uint32
			var d2, d3 uint16
			var d4 [8]byte
			fmt.Sscanf(act.ClassID, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", &d1, &d2, &d3, &d4[0], &d4[1], &d4[2], &d4[3], &d4[4], &d4[5], &d4[6], &d4[7])
			le.PutUint32(g[:], d1)
			le.PutUint16(g[4:], d2)
			le.PutUint16(g[6:], d3)
			copy(g[8:], d4[:])
			b = append(b, g[:]...)
			str(act.Data)
		}
	}
	return b
}
