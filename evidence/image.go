package evidence

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/fsread/image"
)

// ImageOpener re-opens the image at imagePath, read-only, and returns an
// OpenFunc over its volumes by the names the report uses ("disk.img@2",
// or "disk.img" for a bare filesystem). Each volume's filesystem is opened
// on first use. close releases the image; call it after Capture.
func ImageOpener(imagePath string) (open OpenFunc, close func(), err error) {
	return ImageOpenerWith(imagePath, image.Options{})
}

// ImageOpenerWith is ImageOpener with image options: evidence must be read
// through the same view the scan judged (--no-journal-replay).
func ImageOpenerWith(imagePath string, opts image.Options) (open OpenFunc, close func(), err error) {
	img, err := image.OpenWith(imagePath, opts)
	if err != nil {
		return nil, nil, err
	}
	var (
		mu     sync.Mutex
		opened = map[string]fsread.FS{}
		failed = map[string]error{}
	)
	volFS := func(name string) (fsread.FS, error) {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := opened[name]; ok {
			return f, nil
		}
		if err, ok := failed[name]; ok {
			return nil, err
		}
		for _, v := range img.Volumes {
			if v.Name != name {
				continue
			}
			f, err := v.FS()
			if err != nil {
				failed[name] = err
				return nil, err
			}
			opened[name] = f
			return f, nil
		}
		err := fmt.Errorf("volume %q is not in image %s", name, imagePath)
		failed[name] = err
		return nil, err
	}
	open = func(volume, p string) (fs.File, error) {
		fsys, err := volFS(volume)
		if err != nil {
			return nil, err
		}
		return fsys.Open(fsPath(p))
	}
	return open, func() { img.Close() }, nil
}

// fsPath turns an evidence path ("/etc/crontab") into an io/fs name
// ("etc/crontab"). ".." cannot climb above the volume's root.
func fsPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// DirOpener serves a directory scan (scan --dir): its one volume is named
// as scanner.ScanDir names it, the directory's base name.
func DirOpener(dir string) (OpenFunc, error) {
	fsys, err := dirfs.New(dir)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(filepath.Clean(dir))
	return func(volume, p string) (fs.File, error) {
		if volume != name {
			return nil, fmt.Errorf("volume %q is not directory %s", volume, dir)
		}
		return fsys.Open(fsPath(p))
	}, nil
}
