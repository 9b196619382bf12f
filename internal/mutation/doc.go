// Package mutation holds robustness tests only: the bundled images with their metadata corrupted on purpose
// (mutation_test.go) and images built with hostile contents (hostile_test.go), each scanned through the library
// API the CLI uses, asserting that no panic escapes, no scan hangs, memory stays bounded and every report says
// what it could not read. See the test files for the knobs (SNAPSCAN_MUTANTS, SNAPSCAN_MUTANT_SEED,
// SNAPSCAN_HOSTILE_FILES).
package mutation
