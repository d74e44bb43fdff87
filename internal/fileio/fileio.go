// Package fileio holds the two file-system checks every reader and writer of
// the project shares: an input path must be a regular file (a FIFO or a device
// would block the open or the read forever, a directory fails obscurely), and
// an output file is created with the permissions a plain os.Create would give
// (0644 under the process umask), not os.CreateTemp's private 0600.
package fileio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNotRegular marks an input path that is a directory, FIFO, socket or device.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge marks an input file over the size a reader accepts.
var ErrTooLarge = errors.New("file too large")

// CheckRegular stats path (following symlinks) before anyone opens it: opening
// a FIFO blocks until a writer appears, and reading a device may never end.
// maxBytes > 0 also bounds the size. Errors name the path and what it is.
func CheckRegular(path string, maxBytes int64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w: it is %s", path, ErrNotRegular, describe(fi.Mode()))
	}
	if maxBytes > 0 && fi.Size() > maxBytes {
		return fmt.Errorf("%s: %w: %d bytes, more than the %d accepted here", path, ErrTooLarge, fi.Size(), maxBytes)
	}
	return nil
}

// describe names a non-regular file type for error messages.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file (mode " + m.String() + ")"
}

var (
	umaskOnce sync.Once
	umask     fs.FileMode
)

// SharedMode is 0644 with the process umask applied: the mode os.WriteFile(...,
// 0o644) would create. Writers that go through os.CreateTemp (0600) chmod
// their file to it before renaming, so outputs are readable by the group and
// others exactly when the user's umask allows.
func SharedMode() fs.FileMode {
	umaskOnce.Do(func() { umask = readUmask() })
	return 0o644 &^ umask
}

// SharedDirMode is 0755 with the process umask applied, for directories made
// by os.MkdirTemp (0700) and then renamed into place, such as checkpoints.
func SharedDirMode() fs.FileMode {
	umaskOnce.Do(func() { umask = readUmask() })
	return 0o755 &^ umask
}

// readUmask takes the Umask line of /proc/self/status (Linux 4.7+), which
// reads the mask without changing it; elsewhere it sets and restores the
// mask once, early, before the program writes files.
func readUmask() fs.FileMode {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return fs.FileMode(m)
				}
			}
		}
	}
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	return fs.FileMode(old)
}
