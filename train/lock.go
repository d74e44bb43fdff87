package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// LockFile is the advisory lock file a run holds in its output directory.
const LockFile = ".posttrain.lock"

// ErrLocked is wrapped when another process (or another run in this one) holds
// an output directory's lock.
var ErrLocked = errors.New("train: output directory is in use")

// DirLock is an exclusive advisory lock (flock) on an output directory, held
// for a run's lifetime so that two runs never interleave their checkpoints and
// metrics. The kernel drops it when the process ends, however it ends.
type DirLock struct {
	f *os.File
}

// LockDir takes dir's lock without waiting; a held lock is an error naming
// the directory and the holder's pid.
func LockDir(dir string) (*DirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: lock %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another run"
			}
			return nil, fmt.Errorf("%w: %s is being written by another posttrain run (%s); wait for it to end or choose another output_dir", ErrLocked, dir, who)
		}
		return nil, fmt.Errorf("train: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock; the lock file stays (removing it would race with
// a run that has just opened it). A nil lock is a no-op.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
