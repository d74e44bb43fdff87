package model

import (
	"container/heap"
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
	keys  []uint64
	probs []float64
	top   worstFirst
}

// NewSampler returns a sampler seeded with seed.
func NewSampler(opts SamplingOptions, seed uint64) *Sampler {
	return &Sampler{opts: opts, rng: rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb))}
}

// Next picks a token from logits (V). Greedy picks the first maximum, as
// torch.argmax does. Without top-k or top-p it draws from the full softmax in
// one pass; with them it orders only the candidates it must (a heap of k, or a
// sort of packed keys for a nucleus over the whole vocabulary).
func (s *Sampler) Next(logits []float32) int32 {
	if s.opts.Temperature <= 0 || s.opts.TopK == 1 {
		return argmax(logits)
	}
	V := len(logits)
	nucleus := s.opts.TopP > 0 && s.opts.TopP < 1
	if s.opts.TopK <= 0 && !nucleus {
		return s.drawFull(logits)
	}
	var order []int32 // candidate ids, most likely first (lower id first on ties)
	if k := s.opts.TopK; k > 0 && k < V {
		order = s.topK(logits, k)
	} else {
		order = s.sortAll(logits)
	}
	if cap(s.probs) < len(order) {
		s.probs = make([]float64, len(order))
	}
	probs := s.probs[:len(order)]
	maxL := float64(logits[order[0]]) / s.opts.Temperature
	var sum float64
	for i, id := range order {
		probs[i] = math.Exp(float64(logits[id])/s.opts.Temperature - maxL)
		sum += probs[i]
	}
	keep := len(order)
	if nucleus {
		// Keep the smallest prefix whose mass reaches p (always at least one token).
		var cum float64
		for i := range order {
			cum += probs[i] / sum
			if cum >= s.opts.TopP {
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
			return order[i]
		}
	}
	return order[keep-1]
}

// drawFull samples from softmax(logits/T) over the whole vocabulary in id order.
func (s *Sampler) drawFull(logits []float32) int32 {
	if cap(s.probs) < len(logits) {
		s.probs = make([]float64, len(logits))
	}
	probs := s.probs[:len(logits)]
	maxL := float64(logits[argmax(logits)]) / s.opts.Temperature
	var sum float64
	for i, l := range logits {
		probs[i] = math.Exp(float64(l)/s.opts.Temperature - maxL)
		sum += probs[i]
	}
	r := s.rng.Float64() * sum
	for i, p := range probs {
		r -= p
		if r < 0 {
			return int32(i)
		}
	}
	return int32(len(logits) - 1)
}

// orderKey packs a logit and a token id into a uint64 that sorts ascending in
// the order "logit descending, id ascending".
func orderKey(logit float32, id int) uint64 {
	b := math.Float32bits(logit)
	if b>>31 != 0 {
		b = ^b // negative: larger magnitude sorts lower
	} else {
		b |= 1 << 31
	}
	return uint64(^b)<<32 | uint64(uint32(id))
}

// sortAll orders every token by logit with one sort of packed keys.
func (s *Sampler) sortAll(logits []float32) []int32 {
	if cap(s.keys) < len(logits) {
		s.keys = make([]uint64, len(logits))
	}
	keys := s.keys[:len(logits)]
	for i, l := range logits {
		keys[i] = orderKey(l, i)
	}
	slices.Sort(keys)
	return keysToIDs(keys)
}

// topK keeps the k best keys in a heap whose root is the worst kept, then sorts them.
func (s *Sampler) topK(logits []float32, k int) []int32 {
	s.top = s.top[:0]
	for i, l := range logits {
		key := orderKey(l, i)
		if len(s.top) < k {
			heap.Push(&s.top, key)
		} else if key < s.top[0] {
			s.top[0] = key
			heap.Fix(&s.top, 0)
		}
	}
	keys := append(s.keys[:0], s.top...)
	s.keys = keys
	slices.Sort(keys)
	return keysToIDs(keys)
}

// keysToIDs rewrites sorted keys in place as token ids (the low 32 bits).
func keysToIDs(keys []uint64) []int32 {
	ids := make([]int32, len(keys))
	for i, k := range keys {
		ids[i] = int32(uint32(k))
	}
	return ids
}

// worstFirst is a max-heap of keys (the largest key, i.e. the worst candidate, at
// the root) implementing heap.Interface.
type worstFirst []uint64

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return h[i] > h[j] }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *worstFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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
