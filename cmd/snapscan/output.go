package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The CLI writes reports and lists; it must never write into what it
// examines. Every output path is checked against the inputs of the run.
var protected struct {
	files []os.FileInfo // input images and reports
	dirs  []string      // --dir trees, absolute, symlinks resolved
}

// protect records the run's inputs: files (images, baseline and JSONL
// reports) and directory trees (--dir evidence).
func protect(files []string, dirs ...string) {
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			protected.files = append(protected.files, st)
		}
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				abs = real
			}
			protected.dirs = append(protected.dirs, abs)
		}
	}
}

// checkOutput refuses an output path that is an input or lies inside an
// evidence tree.
func checkOutput(path string) error {
	if st, err := os.Stat(path); err == nil {
		for _, in := range protected.files {
			if os.SameFile(st, in) {
				return fmt.Errorf("%s is one of this run's inputs: refusing to overwrite evidence", path)
			}
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	for _, d := range protected.dirs {
		if dir == d || strings.HasPrefix(dir, d+string(filepath.Separator)) {
			return fmt.Errorf("%s is inside the scanned tree %s: refusing to write into evidence", path, d)
		}
	}
	return nil
}

// outputFile is written beside its destination and renamed into place on
// commit, so a failed run never leaves half a report where a good one was.
type outputFile struct {
	*os.File
	dest string
}

func createOutput(path string) (*outputFile, error) {
	if err := checkOutput(path); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &outputFile{File: f, dest: path}, nil
}

func (o *outputFile) commit() error {
	if err := o.File.Chmod(0o644); err != nil {
		o.abort()
		return err
	}
	if err := o.File.Close(); err != nil {
		os.Remove(o.File.Name())
		return err
	}
	return os.Rename(o.File.Name(), o.dest)
}

func (o *outputFile) abort() {
	o.File.Close()
	os.Remove(o.File.Name())
}

// writeOutputFile writes data to path through the same checks.
func writeOutputFile(path string, data []byte) error {
	o, err := createOutput(path)
	if err != nil {
		return err
	}
	if _, err := o.Write(data); err != nil {
		o.abort()
		return err
	}
	return o.commit()
}
