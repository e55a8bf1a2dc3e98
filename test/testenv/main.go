package testenv

import (
	"os"
	"sync"
	"testing"
)

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func register(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

// Main runs the tests of m and stops every server this package started; call it from
// TestMain. It exits the process with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops every server this package started. Main calls it; a TestMain that needs
// its own teardown order may call it itself.
func Stop() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
