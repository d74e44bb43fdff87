package train

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func logSteps(t *testing.T, l *MetricsLog, from, to int) {
	t.Helper()
	for step := from; step <= to; step++ {
		require.NoError(t, l.Log(step, map[string]float64{MetricLoss: 10 - float64(step), MetricLR: 1e-3}))
	}
}

func steps(t *testing.T, path string) []int {
	t.Helper()
	recs, err := ReadMetrics(path)
	require.NoError(t, err)
	var out []int
	for _, r := range recs {
		out = append(out, r.Step)
	}
	return out
}

func TestMetricsLogFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFile)
	l, err := OpenMetricsLog(path, 0)
	require.NoError(t, err)
	require.NoError(t, l.Log(3, map[string]float64{MetricLR: 2e-5, MetricLoss: 1.5, "eval_loss": math.NaN(), "rewards/chosen": -0.25}))
	require.NoError(t, l.Close())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, `{"step":3,"eval_loss":null,"loss":1.5,"lr":2e-05,"rewards/chosen":-0.25}`+"\n", string(data))

	recs, err := ReadMetrics(path)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, 3, recs[0].Step)
	assert.Equal(t, 1.5, recs[0].Values[MetricLoss])
	assert.True(t, math.IsNaN(recs[0].Values["eval_loss"]))
	assert.NotContains(t, recs[0].Values, "step")
}

func TestMetricsLogResumeTruncatesLaterSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFile)
	l, err := OpenMetricsLog(path, 0)
	require.NoError(t, err)
	logSteps(t, l, 1, 8) // checkpoint at 5, killed after logging 8
	require.NoError(t, l.Close())

	l, err = OpenMetricsLog(path, 5)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, steps(t, path))
	logSteps(t, l, 6, 7)
	require.NoError(t, l.Close())
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, steps(t, path))

	l, err = OpenMetricsLog(path, 0) // a fresh run starts a new log
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Empty(t, steps(t, path))
}

func TestMetricsResumeWithoutLogAndWithTornLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	l, err := OpenMetricsLog(path, 4) // resuming with no log yet
	require.NoError(t, err)
	logSteps(t, l, 1, 3)
	require.NoError(t, l.Close())

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"step":4,"loss":0.`) // killed mid-write
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, []int{1, 2, 3}, steps(t, path))

	l, err = OpenMetricsLog(path, 3)
	require.NoError(t, err)
	logSteps(t, l, 4, 4)
	require.NoError(t, l.Close())
	assert.Equal(t, []int{1, 2, 3, 4}, steps(t, path))

	require.NoError(t, os.WriteFile(path, []byte("{\"step\":1}\nnot json\n{\"step\":2}\n"), 0o644))
	_, err = ReadMetrics(path)
	require.ErrorContains(t, err, MetricsFile+":2:")
}

func TestPlotMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	l, err := OpenMetricsLog(path, 0)
	require.NoError(t, err)
	for step := 1; step <= 20; step++ {
		values := map[string]float64{MetricLoss: 3 / float64(step), MetricLR: 1e-3, MetricGradNorm: 1, "nan_only": math.NaN()}
		if step%5 == 0 {
			values["eval_loss"] = 3.5 / float64(step)
			values["rewards/margins"] = float64(step)
		}
		require.NoError(t, l.Log(step, values))
	}
	require.NoError(t, l.Close())

	files, err := PlotMetrics(path, filepath.Join(dir, "plots"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		fh, err := os.Open(f)
		require.NoError(t, err)
		img, err := png.Decode(fh)
		fh.Close()
		require.NoError(t, err, f)
		assert.Greater(t, img.Bounds().Dx(), 100)
	}
	assert.Equal(t, []string{"eval_loss.png", "grad_norm.png", "loss.png", "lr.png", "rewards_margins.png"}, names)
}
