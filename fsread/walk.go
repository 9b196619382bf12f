package fsread

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// ErrDirLoop reports a directory that contains one of its own ancestors, which
// only a corrupt or hostile image can hold.
var ErrDirLoop = errors.New("directory loop")

// MaxWalkDepth bounds how deep Walk descends; deeper trees are reported, not
// followed, so a crafted image cannot exhaust the stack.
const MaxWalkDepth = 256

// Walk is fs.WalkDir with the guards an untrusted image needs: it never
// follows symlinks, refuses to re-enter a directory that is its own ancestor
// (by inode), and stops at MaxWalkDepth. Errors reach fn like fs.WalkDir's.
func Walk(fsys fs.FS, root string, fn fs.WalkDirFunc) error {
	info, err := fs.Stat(fsys, root)
	if err != nil {
		return fn(root, nil, err)
	}
	err = walk(fsys, root, fs.FileInfoToDirEntry(info), fn, nil, 0)
	if err == fs.SkipDir || err == fs.SkipAll {
		return nil
	}
	return err
}

// nodeID names a directory across the volumes of a composed tree.
type nodeID struct{ dev, ino uint64 }

func walk(fsys fs.FS, name string, d fs.DirEntry, fn fs.WalkDirFunc, ancestors []nodeID, depth int) error {
	if err := fn(name, d, nil); err != nil || !d.IsDir() {
		if err == fs.SkipDir && d.IsDir() {
			err = nil
		}
		return err
	}
	if depth >= MaxWalkDepth {
		return fn(name, d, fmt.Errorf("%s: deeper than %d levels, not descended", name, MaxWalkDepth))
	}
	if info, err := d.Info(); err == nil {
		if m, ok := info.Sys().(*Meta); ok && m.Inode != 0 {
			id := nodeID{m.Dev, m.Inode}
			for _, a := range ancestors {
				if a == id {
					return fn(name, d, &fs.PathError{Op: "walk", Path: name, Err: ErrDirLoop})
				}
			}
			ancestors = append(ancestors, id)
		}
	}
	ents, err := fs.ReadDir(fsys, name)
	if err != nil {
		if err = fn(name, d, err); err != nil {
			if err == fs.SkipDir {
				err = nil
			}
			return err
		}
	}
	for _, e := range ents {
		child := path.Join(name, e.Name())
		if err := walk(fsys, child, e, fn, ancestors, depth+1); err != nil {
			if err == fs.SkipDir {
				break
			}
			return err
		}
	}
	return nil
}
