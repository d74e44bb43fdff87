package model

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplingOptions choose the next token from logits, in transformers' order:
// temperature, then top-k, then top-p. Temperature 0 is greedy decoding.
type SamplingOptions struct {
	Temperature float64
	TopK        int     // 0: no top-k filter
	TopP        float64 // 0 or 1: no nucleus filter
}

// Sampler draws tokens from logits reproducibly for a given seed.
type Sampler struct {
	opts SamplingOptions
	rng  *rand.Rand
	// scratch reused across calls
	idx   []int
	probs []float64
}

// NewSampler returns a sampler seeded with seed.
func NewSampler(opts SamplingOptions, seed uint64) *Sampler {
	return &Sampler{opts: opts, rng: rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb))}
}

// Next picks a token from logits (V). Greedy picks the first maximum, as
// torch.argmax does.
func (s *Sampler) Next(logits []float32) int32 {
	if s.opts.Temperature <= 0 {
		return argmax(logits)
	}
	V := len(logits)
	if cap(s.idx) < V {
		s.idx, s.probs = make([]int, V), make([]float64, V)
	}
	idx, probs := s.idx[:V], s.probs[:V]
	for i := range idx {
		idx[i] = i
	}
	// Sort candidates by logit, descending (stable: lower id first on ties).
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	keep := V
	if k := s.opts.TopK; k > 0 && k < keep {
		keep = k
	}
	maxL := float64(logits[idx[0]]) / s.opts.Temperature
	var sum float64
	for i := 0; i < keep; i++ {
		probs[i] = math.Exp(float64(logits[idx[i]])/s.opts.Temperature - maxL)
		sum += probs[i]
	}
	if p := s.opts.TopP; p > 0 && p < 1 {
		// Keep the smallest prefix whose mass reaches p (always at least one token).
		var cum float64
		for i := 0; i < keep; i++ {
			cum += probs[i] / sum
			if cum >= p {
				keep = i + 1
				break
			}
		}
		sum = 0
		for i := 0; i < keep; i++ {
			sum += probs[i]
		}
	}
	r := s.rng.Float64() * sum
	for i := 0; i < keep; i++ {
		r -= probs[i]
		if r < 0 {
			return int32(idx[i])
		}
	}
	return int32(idx[keep-1])
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}
