package train

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fileio"
)

func writeFiles(files map[string]string) func(string) error {
	return func(dir string) error {
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

func saveStep(t *testing.T, out string, step, keepLast int) string {
	t.Helper()
	dir, err := SaveCheckpoint(out, &TrainerState{GlobalStep: step}, writeFiles(map[string]string{"model.safetensors": "w" + strconv.Itoa(step)}), keepLast)
	require.NoError(t, err)
	return dir
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveCheckpointWritesFilesAndMarker(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	best := 0.5
	state := &TrainerState{GlobalStep: 7, Epoch: 0.25, Sampler: json.RawMessage(`{"epoch":0,"offset":56}`),
		RNGStates: map[string][]byte{"dropout": {1, 2, 3}}, BestMetric: &best,
		Schedule:   &Schedule{Kind: ScheduleCosine, BaseLR: 1e-3, WarmupSteps: 2, TotalSteps: 10},
		LogHistory: []map[string]float64{{"step": 5, "loss": 2.5}}}
	dir, err := SaveCheckpoint(out, state, writeFiles(map[string]string{"config.json": "{}", "model.safetensors": "x"}), 0)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(out, "checkpoint-7"), dir)
	assert.ElementsMatch(t, []string{"config.json", "model.safetensors", ManifestFile, TrainerStateFile}, dirNames(t, dir))
	assert.Equal(t, []string{"checkpoint-7"}, dirNames(t, out), "no temporary directory is left")

	got, err := LoadTrainerState(dir)
	require.NoError(t, err)
	assert.JSONEq(t, string(state.Sampler), string(got.Sampler), "the sampler cursor is kept as JSON")
	got.Sampler, state.Sampler = nil, nil
	assert.Equal(t, state, got)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, fileio.SharedDirMode(), info.Mode().Perm(), "0755 under the umask, as os.Mkdir would make it")
}

func TestSaveCheckpointFailureLeavesNothing(t *testing.T) {
	out := t.TempDir()
	boom := errors.New("disk full")
	_, err := SaveCheckpoint(out, &TrainerState{GlobalStep: 3}, func(dir string) error {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644))
		return boom
	}, 0)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "checkpoint-3")
	assert.Empty(t, dirNames(t, out))

	_, err = SaveCheckpoint(out, &TrainerState{GlobalStep: 3}, writeFiles(map[string]string{TrainerStateFile: "{}"}), 0)
	require.ErrorContains(t, err, "completion marker")
	assert.Empty(t, dirNames(t, out))
}

func TestLatestCheckpointIgnoresIncomplete(t *testing.T) {
	out := t.TempDir()
	saveStep(t, out, 10, 0)
	saveStep(t, out, 20, 0)
	mk := func(name string, files map[string]string) {
		require.NoError(t, os.MkdirAll(filepath.Join(out, name), 0o755))
		require.NoError(t, writeFiles(files)(filepath.Join(out, name)))
	}
	// Newer candidates that must all be passed over:
	mk("checkpoint-30", map[string]string{"model.safetensors": "no marker"})
	mk(".tmp-checkpoint-40-123", map[string]string{TrainerStateFile: `{"global_step":40}`})
	mk("checkpoint-50", map[string]string{TrainerStateFile: `{"global_step":5`})   // torn marker
	mk("checkpoint-60", map[string]string{TrainerStateFile: `{"global_step":61}`}) // marker of another step
	mk("checkpoint-7x", map[string]string{TrainerStateFile: `{"global_step":7}`})
	require.NoError(t, os.WriteFile(filepath.Join(out, "checkpoint-70"), []byte("a file"), 0o644))

	dir, step, ok, err := LatestCheckpoint(out)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 20, step)
	assert.Equal(t, filepath.Join(out, "checkpoint-20"), dir)

	cps, err := ListCheckpoints(out)
	require.NoError(t, err)
	assert.Equal(t, []Checkpoint{{filepath.Join(out, "checkpoint-10"), 10}, {filepath.Join(out, "checkpoint-20"), 20}}, cps)
}

func TestLatestCheckpointNone(t *testing.T) {
	for _, out := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		_, _, ok, err := LatestCheckpoint(out)
		require.NoError(t, err)
		assert.False(t, ok)
	}
}

func TestSaveCheckpointRotation(t *testing.T) {
	tests := []struct {
		keepLast int
		want     []string
	}{
		{0, []string{"checkpoint-1", "checkpoint-2", "checkpoint-3", "checkpoint-4", "checkpoint-5"}},
		{1, []string{"checkpoint-5"}},
		{2, []string{"checkpoint-4", "checkpoint-5"}},
		{9, []string{"checkpoint-1", "checkpoint-2", "checkpoint-3", "checkpoint-4", "checkpoint-5"}},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.keepLast), func(t *testing.T) {
			out := t.TempDir()
			for step := 1; step <= 5; step++ {
				saveStep(t, out, step, tc.keepLast)
			}
			assert.ElementsMatch(t, tc.want, dirNames(t, out))
		})
	}
}

func TestSaveCheckpointKeepsNewestEvenBelowOlderHigherSteps(t *testing.T) {
	// A resumed run from step 2 saving step 3 while a stale checkpoint-9 exists: the fresh
	// checkpoint survives rotation.
	out := t.TempDir()
	saveStep(t, out, 2, 0)
	saveStep(t, out, 9, 0)
	saveStep(t, out, 3, 2)
	assert.ElementsMatch(t, []string{"checkpoint-3", "checkpoint-9"}, dirNames(t, out))
}

func TestSaveCheckpointReplacesSameStep(t *testing.T) {
	out := t.TempDir()
	saveStep(t, out, 4, 0)
	dir, err := SaveCheckpoint(out, &TrainerState{GlobalStep: 4}, writeFiles(map[string]string{"new": "1"}), 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"new", ManifestFile, TrainerStateFile}, dirNames(t, dir))
	assert.Equal(t, []string{"checkpoint-4"}, dirNames(t, out))
}

func TestCleanStaleTemps(t *testing.T) {
	out := t.TempDir()
	saveStep(t, out, 1, 0)
	for _, d := range []string{".tmp-checkpoint-2-abc", ".tmp-deleting-checkpoint-0-x"} {
		require.NoError(t, os.MkdirAll(filepath.Join(out, d, "sub"), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(out, "metrics.jsonl"), nil, 0o644))
	require.NoError(t, CleanStaleTemps(out))
	assert.ElementsMatch(t, []string{"checkpoint-1", "metrics.jsonl"}, dirNames(t, out))
	require.NoError(t, CleanStaleTemps(filepath.Join(out, "missing")))
}

// TestCheckpointKilledMidWrite kills a process with SIGKILL while it is inside
// SaveCheckpoint's write callback and checks that resume picks the previous checkpoint.
func TestCheckpointKilledMidWrite(t *testing.T) {
	if os.Getenv("TRAIN_HELPER") == "save-and-hang" {
		out := os.Getenv("TRAIN_HELPER_OUT")
		_, _ = SaveCheckpoint(out, &TrainerState{GlobalStep: 20}, func(dir string) error {
			_ = os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("partial"), 0o644)
			time.Sleep(time.Minute) // killed here
			return nil
		}, 0)
		return
	}
	out := t.TempDir()
	saveStep(t, out, 10, 0)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointKilledMidWrite$")
	cmd.Env = append(os.Environ(), "TRAIN_HELPER=save-and-hang", "TRAIN_HELPER_OUT="+out)
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(out, ".tmp-checkpoint-20-*", "model.safetensors"))
		return len(m) == 1
	}, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	_, step, ok, err := LatestCheckpoint(out)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 10, step)
	require.NoError(t, CleanStaleTemps(out))
	assert.Equal(t, []string{"checkpoint-10"}, dirNames(t, out))
}
