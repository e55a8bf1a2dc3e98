package browser_test

import (
	"errors"
	"fmt"
)

var errNoJS = errors.New("app.js did not run: the page has no js class")

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
