package rollout

import (
	"context"
	"fmt"
	"testing"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
)

// BenchmarkRolloutWorkers measures rollout throughput (generated tokens per
// second, log-prob recomputation included) of a small random model with 1, 2
// and 4 workers sharing its weights: 32 prompts of 16 tokens, 32 new tokens
// each, batches of 8.
func BenchmarkRolloutWorkers(b *testing.B) {
	m := tinyModel(b, 128, 2, 512, 1)
	prompts := make([]Prompt, 32)
	for i := range prompts {
		toks := make([]int32, 16)
		for j := range toks {
			toks[j] = int32((i*31 + j*7) % 512)
		}
		prompts[i] = Prompt{ID: i, Tokens: toks}
	}
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			pool, err := NewPool(Config{Workers: workers, BatchSize: 8,
				NewGenerator: ForkedModelGenerators(m, func() compute.Backend { return cpu.NewForPool(workers) }),
				Generate: GenerateOptions{SamplingOptions: model.SamplingOptions{Temperature: 1, TopK: 50},
					MaxNewTokens: 32, Seed: 1}})
			if err != nil {
				b.Fatal(err)
			}
			tokens := 0
			for b.Loop() {
				samples, st, err := pool.Run(context.Background(), prompts)
				if err != nil {
					b.Fatal(err)
				}
				if len(samples) != len(prompts) {
					b.Fatalf("got %d samples for %d prompts", len(samples), len(prompts))
				}
				tokens += st.GeneratedTokens
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
