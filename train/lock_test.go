package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockDirRefusesASecondWriter(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDir(dir)
	require.NoError(t, err)
	_, err = LockDir(dir)
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), dir)
	require.NoError(t, first.Unlock())
	again, err := LockDir(dir)
	require.NoError(t, err)
	require.NoError(t, again.Unlock())
	require.NoError(t, (*DirLock)(nil).Unlock())
}

func TestParseResume(t *testing.T) {
	for in, want := range map[string]ResumeMode{"": ResumeNone, "false": ResumeNone, "true": ResumeLatest, "latest": ResumeLatest, "auto": ResumeAuto} {
		got, err := ParseResume(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseResume("yes")
	require.Error(t, err)
}
