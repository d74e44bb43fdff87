package datasets

import (
	"fmt"
	"math/rand/v2"
)

// Sampler yields batches of example indices: every example once per epoch, in an order
// reshuffled each epoch from (seed, epoch) alone. Its State is a few integers a checkpoint
// stores; a sampler restored from it yields exactly the batches the original would have.
type Sampler struct {
	n, batchSize int
	shuffle      bool
	seed         uint64
	epoch        int
	cursor       int   // position in perm of the next index
	perm         []int // [n]: this epoch's order
}

// SamplerState is the resumable position of a Sampler (JSON-serialisable).
type SamplerState struct {
	N         int    `json:"n"`
	BatchSize int    `json:"batch_size"`
	Shuffle   bool   `json:"shuffle"`
	Seed      uint64 `json:"seed"`
	Epoch     int    `json:"epoch"`
	Cursor    int    `json:"cursor"`
}

// NewSampler starts at epoch 0 over n examples.
func NewSampler(n, batchSize int, seed uint64, shuffle bool) (*Sampler, error) {
	if n <= 0 || batchSize <= 0 {
		return nil, fmt.Errorf("datasets: sampler needs examples and a positive batch size, got n=%d batch_size=%d", n, batchSize)
	}
	s := &Sampler{n: n, batchSize: batchSize, shuffle: shuffle, seed: seed}
	s.startEpoch(0)
	return s, nil
}

// Next returns the indices of the next batch. The last batch of an epoch holds the remainder
// (it may be smaller); the call after it starts the next epoch.
func (s *Sampler) Next() []int {
	if s.cursor >= s.n {
		s.startEpoch(s.epoch + 1)
	}
	end := min(s.cursor+s.batchSize, s.n)
	batch := append([]int(nil), s.perm[s.cursor:end]...)
	s.cursor = end
	return batch
}

// Epoch is the epoch the next batch comes from (a finished epoch rolls over on the next call).
func (s *Sampler) Epoch() int { return s.epoch }

// BatchesPerEpoch counts batches in one epoch, the last one possibly partial.
func (s *Sampler) BatchesPerEpoch() int { return (s.n + s.batchSize - 1) / s.batchSize }

// State captures the position for a checkpoint.
func (s *Sampler) State() SamplerState {
	return SamplerState{N: s.n, BatchSize: s.batchSize, Shuffle: s.shuffle, Seed: s.seed, Epoch: s.epoch, Cursor: s.cursor}
}

// Restore moves the sampler to a saved position. The dataset size, batch size and shuffling
// must match: resuming onto other data would silently change the batches.
func (s *Sampler) Restore(st SamplerState) error {
	if st.N != s.n || st.BatchSize != s.batchSize || st.Shuffle != s.shuffle {
		return fmt.Errorf("datasets: sampler state is for n=%d batch_size=%d shuffle=%t, this run has n=%d batch_size=%d shuffle=%t",
			st.N, st.BatchSize, st.Shuffle, s.n, s.batchSize, s.shuffle)
	}
	if st.Epoch < 0 || st.Cursor < 0 || st.Cursor > st.N {
		return fmt.Errorf("datasets: sampler state epoch=%d cursor=%d is out of range for n=%d", st.Epoch, st.Cursor, st.N)
	}
	s.seed = st.Seed
	s.startEpoch(st.Epoch)
	s.cursor = st.Cursor
	return nil
}

func (s *Sampler) startEpoch(epoch int) {
	s.epoch, s.cursor = epoch, 0
	if s.perm == nil {
		s.perm = make([]int, s.n)
	}
	for i := range s.perm {
		s.perm[i] = i
	}
	if s.shuffle {
		shuffle(s.perm, rand.NewPCG(s.seed, uint64(epoch)))
	}
}

// shuffle is Fisher–Yates driven by PCG, whose output is fixed by its specification; written
// out rather than rand.Shuffle so the order cannot change with a Go release and break resume.
func shuffle(perm []int, src *rand.PCG) {
	for i := len(perm) - 1; i > 0; i-- {
		j := int(boundedUint64(src, uint64(i+1)))
		perm[i], perm[j] = perm[j], perm[i]
	}
}

// boundedUint64 draws uniformly from [0, bound) by rejection, so no index is favoured.
func boundedUint64(src *rand.PCG, bound uint64) uint64 {
	limit := -bound % bound // 2^64 mod bound: values below it would bias the modulo
	for {
		if v := src.Uint64(); v >= limit {
			return v % bound
		}
	}
}
