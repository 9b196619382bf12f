package fsread

import (
	"io/fs"
	"path"
	"strings"
)

// RealPath resolves every symbolic link in name inside fsys, the way
// realpath(3) would on the imaged host, and returns the canonical path
// (io/fs form, "." for the root). One directory seen under two names (/lib
// and /usr/lib on merged-/usr systems) then has one name. Inode numbers
// cannot serve for that: a composed tree joins volumes whose inode numbers
// collide.
func RealPath(fsys fs.ReadLinkFS, name string) (string, error) {
	if !validPath(name) {
		return "", &fs.PathError{Op: "realpath", Path: name, Err: fs.ErrInvalid}
	}
	parts := strings.Split(name, "/")
	cur := ""
	for hops := 0; len(parts) > 0; {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, c)
		fi, err := fsys.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", &fs.PathError{Op: "realpath", Path: name, Err: ErrLinkLoop}
		}
		target, err := fsys.ReadLink(next)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	if cur == "" {
		return ".", nil
	}
	return cur, nil
}
