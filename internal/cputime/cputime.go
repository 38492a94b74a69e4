// Package cputime reads the CPU time this process has used, for
// benchmarks that report CPU per message or cores used. It exists so the
// benchmarks (and the test files holding them) build on every platform
// the station does: getrusage(2) is not on Windows.
package cputime
