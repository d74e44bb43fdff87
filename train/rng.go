package train

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// RNG is a seeded PCG generator whose whole state can be saved in a checkpoint, so a resumed
// run draws the same dropout masks and samples as an uninterrupted one. All of math/rand/v2's
// methods (Float32, IntN, Perm, Shuffle, NormFloat64, ...) are available; rand.Rand keeps no
// state of its own beyond the source, so the source's state is the generator's state.
type RNG struct {
	*rand.Rand
	src *rand.PCG
}

// NewRNG returns the generator for one named stream ("dropout", "sampler", "rollout/3") of a
// run seeded with seed: different streams are independent, the same pair always gives the
// same sequence.
func NewRNG(seed uint64, stream string) *RNG {
	src := rand.NewPCG(seed, streamHash(stream))
	return &RNG{Rand: rand.New(src), src: src}
}

// DeriveSeed gives a child seed for a named stream, for code that wants a plain seed.
func DeriveSeed(seed uint64, stream string) uint64 {
	return NewRNG(seed, stream).Uint64()
}

func streamHash(stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return h.Sum64()
}

// MarshalBinary returns the generator's state (the PCG's MarshalBinary).
func (r *RNG) MarshalBinary() ([]byte, error) {
	return r.src.MarshalBinary()
}

// UnmarshalBinary restores a state from MarshalBinary.
func (r *RNG) UnmarshalBinary(data []byte) error {
	if err := r.src.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("train: restore rng state: %w", err)
	}
	return nil
}
