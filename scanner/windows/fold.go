package windows

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// resolveFold finds name on fsys the way Windows would: NTFS lookups ignore
// case, but a directory on the host (dirfs) or an ext4 copy of a Windows tree
// does not. Each component is looked up as spelled first, so a
// case-insensitive adapter pays one lookup; only a miss lists the parent.
// The result carries the names as stored on disk (the NTFS adapter reports
// them in Stat), so evidence paths do not depend on how we spelled them.
func resolveFold(fsys fs.FS, name string) (string, error) {
	name = path.Clean(strings.TrimLeft(strings.ReplaceAll(name, `\`, "/"), "/"))
	if name == "" || name == "." {
		return ".", nil
	}
	cur := "."
	for _, comp := range strings.Split(name, "/") {
		next := path.Join(cur, comp)
		if info, err := fs.Stat(fsys, next); err == nil {
			if n := info.Name(); n != comp && strings.EqualFold(n, comp) {
				next = path.Join(cur, n)
			}
			cur = next
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		ents, err := fs.ReadDir(fsys, cur)
		if err != nil {
			return "", err
		}
		found := ""
		for _, e := range ents {
			if strings.EqualFold(e.Name(), comp) {
				found = e.Name()
				break
			}
		}
		if found == "" {
			return "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		cur = path.Join(cur, found)
	}
	return cur, nil
}

// expandFold resolves a pattern whose components may be "*" (any entry that
// is a directory, for Users\*) against fsys, case-insensitively. It returns
// the existing paths, sorted; an absent prefix yields none.
func expandFold(fsys fs.FS, pattern string) []string {
	pattern = strings.Trim(strings.ReplaceAll(pattern, `\`, "/"), "/")
	paths := []string{"."}
	for _, comp := range strings.Split(pattern, "/") {
		var next []string
		for _, p := range paths {
			if comp != "*" {
				if r, err := resolveFold(fsys, path.Join(p, comp)); err == nil {
					next = append(next, r)
				}
				continue
			}
			ents, err := fs.ReadDir(fsys, p)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() {
					next = append(next, path.Join(p, e.Name()))
				}
			}
		}
		paths = next
	}
	sort.Strings(paths)
	return paths
}
