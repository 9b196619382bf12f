package main

import (
	"io"

	"github.com/snapscan/snapscan/internal/safewrite"
)

// writeTo writes one output document (a report, a list) to path through
// safewrite: atomically for files, in place for stdout, FIFOs and devices,
// never onto the run's inputs. write gets the destination; when it fails
// an atomic destination is left as it was.
func writeTo(path string, stdout io.Writer, guard *safewrite.Guard, write func(io.Writer) error) error {
	if path == "" {
		path = "-"
	}
	f, err := safewrite.Create(path, safewrite.Options{Guard: guard, Stdout: stdout})
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// writeOutputFile writes data to path through the same rules.
func writeOutputFile(path string, guard *safewrite.Guard, data []byte) error {
	return writeTo(path, nil, guard, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
