package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceOrder is the plain definition the fast paths must equal: every id
// sorted by logit descending, lower id first on ties.
func referenceOrder(logits []float32) []int32 {
	ids := make([]int32, len(logits))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortStableFunc(ids, func(a, b int32) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	return ids
}

func randomLogits(rng *rand.Rand, V int) []float32 {
	l := make([]float32, V)
	for i := range l {
		l[i] = float32(rng.NormFloat64() * 3)
		if i%17 == 0 {
			l[i] = l[i/2] // ties
		}
	}
	l[5] = float32(math.Inf(-1))
	return l
}

func TestCandidateOrderMatchesStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewSampler(SamplingOptions{Temperature: 1}, 0)
	for trial := 0; trial < 20; trial++ {
		logits := randomLogits(rng, 300)
		want := referenceOrder(logits)
		require.Equal(t, want, s.sortAll(logits))
		for _, k := range []int{1, 7, 50} {
			require.Equal(t, want[:k], s.topK(logits, k), "k=%d", k)
		}
	}
}

// TestSamplingFrequenciesFollowTheFilteredSoftmax draws many tokens and
// compares frequencies with the probabilities computed directly.
func TestSamplingFrequenciesFollowTheFilteredSoftmax(t *testing.T) {
	logits := []float32{2, 1, 0.5, 0.5, -1, 3}
	cases := []struct {
		name string
		opts SamplingOptions
		want []float64
	}{
		{"full softmax at T=2", SamplingOptions{Temperature: 2}, softmaxOf(logits, 2, nil)},
		{"top-k 3", SamplingOptions{Temperature: 1, TopK: 3}, softmaxOf(logits, 1, []int{5, 0, 1})},
		// probabilities at T=1 sorted: 3→.57, 2→.21, 1→.08, ...: p 0.7 keeps {5, 0}
		{"top-p 0.7", SamplingOptions{Temperature: 1, TopP: 0.7}, softmaxOf(logits, 1, []int{5, 0})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSampler(tc.opts, 9)
			const n = 40000
			counts := make([]float64, len(logits))
			for i := 0; i < n; i++ {
				counts[s.Next(logits)]++
			}
			for id, p := range tc.want {
				require.InDelta(t, p, counts[id]/n, 0.01, "token %d", id)
			}
		})
	}
}

// softmaxOf is softmax(logits/T) restricted to keep (nil: all), renormalised.
func softmaxOf(logits []float32, T float64, keep []int) []float64 {
	out := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		if keep != nil && !slices.Contains(keep, i) {
			continue
		}
		out[i] = math.Exp(float64(l) / T)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func BenchmarkSampleNext(b *testing.B) {
	logits := randomLogits(rand.New(rand.NewPCG(3, 4)), 8192)
	for _, o := range []SamplingOptions{{Temperature: 1}, {Temperature: 1, TopK: 50}, {Temperature: 1, TopP: 0.9}} {
		b.Run("", func(b *testing.B) {
			s := NewSampler(o, 1)
			for b.Loop() {
				s.Next(logits)
			}
		})
	}
}
