package check

import "github.com/snapscan/snapscan/report"

// HiveReporter is implemented by a Sink that records which registry hives
// the checks read and their recovery state (transaction logs applied or
// not); the report shows it per target and a dirty hive makes the verdict
// incomplete.
type HiveReporter interface {
	Hive(report.HiveState)
}

// ReportHive tells out about a hive a check read, when out records hives.
// Checks call it once per hive they open; repeats are merged.
func ReportHive(out Sink, h report.HiveState) {
	if hr, ok := out.(HiveReporter); ok {
		hr.Hive(h)
	}
}
