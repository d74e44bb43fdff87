package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRNGIsSeededAndStreamsDiffer(t *testing.T) {
	a, b := NewRNG(42, "dropout"), NewRNG(42, "dropout")
	other, reseeded := NewRNG(42, "sampler"), NewRNG(43, "dropout")
	var sa, sb, so, sr []uint64
	for range 8 {
		sa, sb, so, sr = append(sa, a.Uint64()), append(sb, b.Uint64()), append(so, other.Uint64()), append(sr, reseeded.Uint64())
	}
	assert.Equal(t, sa, sb)
	assert.NotEqual(t, sa, so)
	assert.NotEqual(t, sa, sr)
	assert.Equal(t, DeriveSeed(1, "x"), DeriveSeed(1, "x"))
	assert.NotEqual(t, DeriveSeed(1, "x"), DeriveSeed(1, "y"))
}

func TestRNGStateRoundTrip(t *testing.T) {
	r := NewRNG(7, "dropout")
	for range 5 {
		r.Float32()
	}
	state, err := r.MarshalBinary()
	require.NoError(t, err)
	want := []any{r.Float32(), r.IntN(1000), r.Perm(6), r.NormFloat64()}

	restored := NewRNG(0, "something else")
	require.NoError(t, restored.UnmarshalBinary(state))
	got := []any{restored.Float32(), restored.IntN(1000), restored.Perm(6), restored.NormFloat64()}
	assert.Equal(t, want, got)

	require.ErrorContains(t, restored.UnmarshalBinary([]byte("junk")), "restore rng state")
}
