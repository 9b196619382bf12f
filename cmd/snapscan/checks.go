package main

import (
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/windows"
)

// allChecks is every persistence check, Linux and Windows; the scanner runs
// each on the targets of its OS.
func allChecks() []check.Check {
	return append(linux.Checks(), windows.Checks()...)
}
