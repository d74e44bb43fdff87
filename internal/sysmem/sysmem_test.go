package sysmem

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
}

func TestAvailableTakesTheSmallerOfMeminfoAndCgroup(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/meminfo", "MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
	info, ok := availableAt(root)
	require.True(t, ok)
	assert.Equal(t, uint64(2048*1024), info.Bytes)
	assert.Contains(t, info.Source, "MemAvailable")

	write(t, root, "sys/fs/cgroup/memory.max", "1048576\n")
	write(t, root, "sys/fs/cgroup/memory.current", "524288\n")
	info, ok = availableAt(root)
	require.True(t, ok)
	assert.Equal(t, uint64(524288), info.Bytes)
	assert.Contains(t, info.Source, "memory.max")

	write(t, root, "sys/fs/cgroup/memory.max", "max\n") // no limit: meminfo decides
	info, _ = availableAt(root)
	assert.Equal(t, uint64(2048*1024), info.Bytes)
}

func TestAvailableWithoutFilesIsNotOK(t *testing.T) {
	_, ok := availableAt(t.TempDir())
	assert.False(t, ok)
}

func TestAvailableOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	info, ok := Available()
	require.True(t, ok)
	assert.Greater(t, info.Bytes, uint64(0))
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "512 B", Format(512))
	assert.Equal(t, "1.5 GiB", Format(1.5*(1<<30)))
	assert.Equal(t, "256.0 TiB", Format(256*(1<<40)))
}
