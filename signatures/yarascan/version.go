package yarascan

// #cgo pkg-config: yara
// #include <yara.h>
import "C"

import "fmt"

// LibVersion is the version of libyara snapscan was built against, from its
// header (YR_MAJOR_VERSION.YR_MINOR_VERSION.YR_MICRO_VERSION).
func LibVersion() string {
	return fmt.Sprintf("%d.%d.%d", C.YR_MAJOR_VERSION, C.YR_MINOR_VERSION, C.YR_MICRO_VERSION)
}
