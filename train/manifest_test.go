package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyCheckpointNamesAFlippedByte(t *testing.T) {
	out := t.TempDir()
	dir := saveStep(t, out, 3, 0)
	require.NoError(t, VerifyCheckpoint(dir))
	file := filepath.Join(dir, "model.safetensors")
	body, err := os.ReadFile(file)
	require.NoError(t, err)
	body[0] ^= 1
	require.NoError(t, os.WriteFile(file, body, 0o644))
	err = VerifyCheckpoint(dir)
	require.ErrorIs(t, err, ErrCorruptCheckpoint)
	assert.Contains(t, err.Error(), file)
}

func TestFindResumeCheckpointRefusesADamagedNewest(t *testing.T) {
	out := t.TempDir()
	saveStep(t, out, 2, 0)
	newest := saveStep(t, out, 4, 0)
	// Never completed: no marker, no manifest; passed over as before.
	require.NoError(t, os.MkdirAll(filepath.Join(out, "checkpoint-9"), 0o755))

	rp, ok, err := FindResumeCheckpoint(out)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 4, rp.Step)
	assert.False(t, rp.Unverified)

	require.NoError(t, os.WriteFile(filepath.Join(newest, "model.safetensors"), []byte("W4"), 0o644))
	_, _, err = FindResumeCheckpoint(out)
	require.ErrorIs(t, err, ErrCorruptCheckpoint)
	assert.Contains(t, err.Error(), "checkpoint-4")
	assert.Contains(t, err.Error(), "checkpoint-2", "the hint names the older checkpoint")

	require.NoError(t, os.WriteFile(filepath.Join(newest, TrainerStateFile), []byte("{not json"), 0o644))
	_, _, err = FindResumeCheckpoint(out)
	require.ErrorIs(t, err, ErrCorruptCheckpoint)
}

func TestFindResumeCheckpointAcceptsAnOldCheckpointWithoutManifest(t *testing.T) {
	out := t.TempDir()
	dir := saveStep(t, out, 5, 0)
	require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
	rp, ok, err := FindResumeCheckpoint(out)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, rp.Unverified)

	_, ok, err = FindResumeCheckpoint(filepath.Join(out, "missing"))
	require.NoError(t, err)
	assert.False(t, ok)
}
