package yarascan

// #cgo pkg-config: yara
// #include <yara.h>
import "C"

import yara "github.com/hillu/go-yara/v4"

// errTimeoutCode is libyara's ERROR_SCAN_TIMEOUT, taken from its header
// rather than hard-coded: the numbering is libyara's, not go-yara's.
const errTimeoutCode = yara.Error(C.ERROR_SCAN_TIMEOUT)
