package fileio

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.json")
	require.NoError(t, os.WriteFile(file, []byte("{}"), 0o644))
	require.NoError(t, CheckRegular(file, 0))
	require.NoError(t, CheckRegular(file, 2))

	err := CheckRegular(file, 1)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), file)

	err = CheckRegular(dir, 0)
	require.ErrorIs(t, err, ErrNotRegular)
	assert.Contains(t, err.Error(), "a directory")

	fifo := filepath.Join(dir, "pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	err = CheckRegular(fifo, 0)
	require.ErrorIs(t, err, ErrNotRegular)
	assert.Contains(t, err.Error(), "named pipe")

	if _, err := os.Stat("/dev/null"); err == nil {
		err = CheckRegular("/dev/null", 0)
		require.ErrorIs(t, err, ErrNotRegular)
		assert.Contains(t, err.Error(), "character device")
	}

	_, err = os.Stat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, CheckRegular(filepath.Join(dir, "missing"), 0), os.ErrNotExist, "%v", err)
}

func TestSharedModeAppliesUmask(t *testing.T) {
	// The test process's umask decides; compare with what os.WriteFile does.
	p := filepath.Join(t.TempDir(), "probe")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, fi.Mode().Perm(), SharedMode())
}

func TestSharedDirModeAppliesUmask(t *testing.T) {
	p := filepath.Join(t.TempDir(), "probe")
	require.NoError(t, os.Mkdir(p, 0o755))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, fi.Mode().Perm(), SharedDirMode())
}
