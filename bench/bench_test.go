package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
)

// configS is the benchmark config S, shrunk in steps for `go test`.
func configS() Spec {
	return Spec{Dim: 256, Layers: 4, Heads: 8, KVHeads: 2, FFN: 768, Vocab: 8192, Seq: 256, Batch: 4,
		Steps: 1, Warmup: 0, Prompt: 64, New: 64, Reps: 1}
}

func TestTrainAndGenerateReportPeerKeys(t *testing.T) {
	s := Spec{Dim: 32, Layers: 1, Heads: 4, KVHeads: 2, FFN: 64, Vocab: 64, Seq: 16, Batch: 2, Steps: 3, Warmup: 1,
		Prompt: 4, New: 4, Reps: 1}
	res, err := Train(cpu.New(), s)
	require.NoError(t, err)
	for _, k := range []string{"tokens_per_s", "peak_rss_mb", "step_ms_median", "loss_first", "loss_last"} {
		require.Contains(t, res, k)
	}
	require.Greater(t, res["tokens_per_s"].(float64), 0.0)
	require.Less(t, res["loss_last"].(float64), res["loss_first"].(float64), "AdamW steps on a repeated batch lower the loss")
	res, err = Generate(cpu.New(), s)
	require.NoError(t, err)
	for _, k := range []string{"prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_mb"} {
		require.Contains(t, res, k)
	}
}

func BenchmarkTrainStepS(b *testing.B) {
	s := configS()
	s.Steps = b.N
	res, err := Train(cpu.New(), s)
	require.NoError(b, err)
	b.ReportMetric(res["tokens_per_s"].(float64), "tokens/s")
}

func BenchmarkGenerateS(b *testing.B) {
	s := configS()
	s.Batch, s.Reps = 8, b.N
	res, err := Generate(cpu.New(), s)
	require.NoError(b, err)
	b.ReportMetric(res["decode_tokens_per_s"].(float64), "decode-tokens/s")
}
