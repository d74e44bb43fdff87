package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A constant loss of 1e30 (an absurd reward margin) once crashed gonum/plot.
func TestPlotMetricsDrawsAHugeConstantSeries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	log, err := OpenMetricsLog(path, 0)
	require.NoError(t, err)
	for step := 1; step <= 3; step++ {
		require.NoError(t, log.Log(step, map[string]float64{MetricLoss: 1.0000000150474662e30, "flat": 2}))
	}
	require.NoError(t, log.Close())
	files, err := PlotMetrics(path, dir)
	require.NoError(t, err)
	require.Len(t, files, 2)
	for _, f := range files {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
}
