package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBF16ToFloat32(t *testing.T) {
	tests := []struct {
		name string
		bits uint16
		want float32
	}{
		{"one", 0x3f80, 1},
		{"minus three", 0xc040, -3},
		{"pi truncated", 0x4049, float32(3.140625)},
		{"smallest subnormal", 0x0001, float32(math.Ldexp(1, -133))},
		{"largest finite", 0x7f7f, float32(math.Ldexp(255, 120))},
		{"+inf", 0x7f80, float32(math.Inf(1))},
		{"-inf", 0xff80, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, bf16ToFloat32(tt.bits))
		})
	}
	t.Run("nan", func(t *testing.T) {
		for _, bits := range []uint16{0x7fc0, 0xffc0, 0x7f81} {
			assert.True(t, math.IsNaN(float64(bf16ToFloat32(bits))), "%#04x", bits)
		}
	})
	t.Run("negative zero", func(t *testing.T) {
		v := bf16ToFloat32(0x8000)
		assert.Zero(t, v)
		assert.True(t, math.Signbit(float64(v)))
	})
}

func TestFloat32ToBF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"exact one", 0x3f800000, 0x3f80},
		{"below half rounds down", 0x3f807fff, 0x3f80},
		{"above half rounds up", 0x3f808001, 0x3f81},
		{"tie to even stays", 0x3f808000, 0x3f80},     // 1 + 2^-8: halfway between 0x3f80 and 0x3f81
		{"tie to even rounds up", 0x3f818000, 0x3f82}, // halfway between 0x3f81 and 0x3f82
		{"negative tie", 0xbf818000, 0xbf82},
		{"max float32 overflows to inf", 0x7f7fffff, 0x7f80},
		{"+inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"-0", 0x80000000, 0x8000},
		{"subnormal rounds up", 0x00008000 | 0x00010000, 0x0002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, float32ToBF16(math.Float32frombits(tt.in)))
		})
	}
	t.Run("nan stays nan", func(t *testing.T) {
		// 0x7f800001 has its payload only in the low half: truncation would give Inf.
		for _, bits := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7fffffff} {
			got := float32ToBF16(math.Float32frombits(bits))
			assert.True(t, math.IsNaN(float64(bf16ToFloat32(got))), "%#08x -> %#04x", bits, got)
		}
	})
}

// TestFloat32ToBF16MatchesNearest compares the bit trick against a plain
// float64 search for the nearest bfloat16 (ties to the even mantissa).
func TestFloat32ToBF16MatchesNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		bits := rng.Uint32()
		if bits&0x7f800000 == 0x7f800000 { // Inf/NaN are covered above
			continue
		}
		f := float64(math.Float32frombits(bits))
		lo := uint16(bits >> 16) // truncation, toward zero
		hi := lo + 1             // next away from zero (may be Inf)
		hiVal := float64(bf16ToFloat32(hi))
		if math.IsInf(hiVal, 0) {
			// IEEE rounds as if the exponent went on: the value past the largest finite is 2^128.
			hiVal = math.Copysign(math.Ldexp(1, 128), f)
		}
		dLo := math.Abs(f - float64(bf16ToFloat32(lo)))
		dHi := math.Abs(hiVal - f)
		want := lo
		if dHi < dLo || (dHi == dLo && lo&1 == 1) {
			want = hi
		}
		require.Equal(t, want, float32ToBF16(float32(f)), "input bits %#08x", bits)
	}
}

func TestF16ToFloat32(t *testing.T) {
	tests := []struct {
		name string
		bits uint16
		want float32
	}{
		{"one", 0x3c00, 1},
		{"minus two", 0xc000, -2},
		{"one third", 0x3555, float32(1365.0 / 4096)}, // (1 + 341/1024) / 4
		{"max normal", 0x7bff, 65504},
		{"min normal", 0x0400, float32(math.Ldexp(1, -14))},
		{"min subnormal", 0x0001, float32(math.Ldexp(1, -24))},
		{"max subnormal", 0x03ff, float32(math.Ldexp(1023, -24))},
		{"negative subnormal", 0x8001, float32(-math.Ldexp(1, -24))},
		{"+inf", 0x7c00, float32(math.Inf(1))},
		{"-inf", 0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, f16ToFloat32(tt.bits))
		})
	}
	t.Run("nan", func(t *testing.T) {
		for _, bits := range []uint16{0x7e00, 0xfe00, 0x7c01} {
			assert.True(t, math.IsNaN(float64(f16ToFloat32(bits))), "%#04x", bits)
		}
	})
	t.Run("negative zero", func(t *testing.T) {
		v := f16ToFloat32(0x8000)
		assert.Zero(t, v)
		assert.True(t, math.Signbit(float64(v)))
	})
}

// TestF16ToFloat32AllValues checks every finite half against the textbook
// formula (-1)^s × m × 2^(e-25) with m = 1024+mantissa (normal) or mantissa
// (subnormal, e = 1).
func TestF16ToFloat32AllValues(t *testing.T) {
	for h := range 1 << 16 {
		exp := h >> 10 & 0x1f
		if exp == 0x1f {
			continue
		}
		m := float64(h & 0x3ff)
		if exp == 0 {
			exp = 1
		} else {
			m += 1024
		}
		want := math.Ldexp(m, exp-25)
		if h&0x8000 != 0 {
			want = -want
		}
		require.Equal(t, float32(want), f16ToFloat32(uint16(h)), "half %#04x", h)
	}
}
