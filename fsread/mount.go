package fsread

import (
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Mount composes filesystems the way the OS in the image would: root with
// other volumes mounted at the points its fstab names (/home, /var, /boot).
// Symbolic links are resolved across the whole tree, so a link on /home to
// /etc/... lands on the root volume as it would on the running host.
func Mount(root FS, mounts map[string]FS) FS {
	if len(mounts) == 0 {
		return root
	}
	mb := &mountBackend{fss: []FS{root}, points: []string{"/"}, at: map[string]int{}}
	points := make([]string, 0, len(mounts))
	for p := range mounts {
		points = append(points, p)
	}
	sort.Strings(points)
	for _, p := range points {
		clean := strings.Trim(path.Clean("/"+p), "/")
		if clean == "" {
			continue
		}
		mb.at[clean] = len(mb.fss)
		mb.fss = append(mb.fss, mounts[p])
		mb.points = append(mb.points, "/"+clean)
	}
	return NewFS[mountNode](mb, root.String()+" with "+strings.Join(points, ", ")+" mounted")
}

// mountNode is a place in one of the composed filesystems. full is its
// path in the composed tree, used to notice crossing into a mount point.
type mountNode struct {
	fs   int
	path string // in fss[fs], io/fs form
	full string // in the composed tree, io/fs form
}

type mountBackend struct {
	fss    []FS
	points []string       // mount point of fss[i], "/" for the root
	at     map[string]int // mount point (io/fs form) -> index in fss
}

// place is where n is stored: the mount point of its volume and its path
// there. Paths in a mountNode are free of symbolic links (the tree's
// resolver followed them), so the path opens the same file on the volume
// alone.
func (m *mountBackend) place(n mountNode) (string, string) { return m.points[n.fs], n.path }

func (m *mountBackend) Root() mountNode { return mountNode{0, ".", "."} }

func (m *mountBackend) child(dir mountNode, name string) mountNode {
	full := path.Join(dir.full, name)
	if i, ok := m.at[full]; ok {
		return mountNode{i, ".", full}
	}
	return mountNode{dir.fs, path.Join(dir.path, name), full}
}

func (m *mountBackend) Lookup(dir mountNode, name string) (mountNode, error) {
	n := m.child(dir, name)
	if _, err := m.fss[n.fs].Lstat(n.path); err != nil {
		return n, err
	}
	return n, nil
}

func (m *mountBackend) Meta(n mountNode) (*Meta, error) {
	fi, err := m.fss[n.fs].Lstat(n.path)
	if err != nil {
		return nil, err
	}
	meta := *MetaOf(fi)
	meta.Dev = uint64(n.fs) + 1
	return &meta, nil
}

func (m *mountBackend) ReadDir(dir mountNode) ([]Dirent[mountNode], error) {
	ents, err := m.fss[dir.fs].ReadDir(dir.path)
	if err != nil {
		return nil, err
	}
	out := make([]Dirent[mountNode], 0, len(ents))
	for _, e := range ents {
		n := m.child(dir, e.Name())
		typ := e.Type()
		if n.path == "." {
			typ = fs.ModeDir // the mounted volume's root hides the mount point
		}
		out = append(out, Dirent[mountNode]{Name: e.Name(), Node: n, Type: typ, TypeKnown: true})
	}
	return out, nil
}

func (m *mountBackend) ReadLink(n mountNode) (string, error) { return m.fss[n.fs].ReadLink(n.path) }

func (m *mountBackend) Open(n mountNode) (io.ReaderAt, int64, error) {
	f, err := m.fss[n.fs].Open(n.path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	ra, ok := f.(interface {
		io.ReaderAt
		io.Closer
	})
	if !ok {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: n.full, Err: fs.ErrInvalid}
	}
	return ra, st.Size(), nil
}
