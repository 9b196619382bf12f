package check

import (
	"io/fs"
	"sync"

	"github.com/snapscan/snapscan/fsread"
)

// Links remembers, for every inode with more than one name, the first name
// under which it was read, so that a file's content is judged once however
// many hard links point at it: two hundred links to one 16 MiB crontab are
// one read and one parse, and 199 lines saying "link of the first". It is
// safe for concurrent use. The zero value is ready.
type Links struct {
	mu    sync.Mutex
	first map[linkKey]string
}

type linkKey struct {
	dev, inode uint64
	scope      string
}

// First records p as a name of m's inode within scope (callers use the
// directory, so one inode linked into places parsed differently is judged in
// each) and returns the name recorded first and whether that was another
// call. Files with one link, and entries without an inode number, are never
// remembered: they cost nothing here.
func (l *Links) First(m *fsread.Meta, scope, p string) (string, bool) {
	if m == nil || m.Nlink < 2 || m.Inode == 0 || m.Mode&fs.ModeType != 0 {
		return p, false
	}
	k := linkKey{m.Dev, m.Inode, scope}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.first[k]; ok {
		return f, true
	}
	if l.first == nil {
		l.first = map[linkKey]string{}
	}
	l.first[k] = p
	return p, false
}
