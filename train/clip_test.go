package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClipGradNorm(t *testing.T) {
	tests := []struct {
		name     string
		grads    [][]float32
		maxNorm  float64
		wantNorm float64
		want     [][]float32
	}{
		// norm sqrt(9+16+144) = 13; coef 1/(13+1e-6)
		{"clips", [][]float32{{3, 4}, {12}}, 1, 13, [][]float32{{3 / 13.0, 4 / 13.0}, {12 / 13.0}}},
		{"below max is untouched", [][]float32{{3, 4}}, 10, 5, [][]float32{{3, 4}}},
		{"zero max only measures", [][]float32{{3, 4}}, 0, 5, [][]float32{{3, 4}}},
		{"zero grads", [][]float32{{0, 0}}, 1, 0, [][]float32{{0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var params []Param
			for i, g := range tc.grads {
				params = append(params, Param{Name: string(rune('a' + i)), Grad: g, Data: make([]float32, len(g))})
			}
			norm := ClipGradNorm(params, tc.maxNorm)
			assert.InDelta(t, tc.wantNorm, norm, 1e-9)
			for i := range tc.want {
				assert.InDeltaSlice(t, tc.want[i], params[i].Grad, 1e-6)
			}
			if tc.maxNorm > 0 && tc.wantNorm > tc.maxNorm {
				assert.InDelta(t, tc.maxNorm, GradNorm(params), 1e-5)
			}
		})
	}
}

func TestClipGradNormLeavesNonFiniteAlone(t *testing.T) {
	g := []float32{float32(math.Inf(1)), 1}
	norm := ClipGradNorm([]Param{{Name: "w", Grad: g, Data: make([]float32, 2)}}, 1)
	assert.True(t, math.IsInf(norm, 1))
	assert.Equal(t, float32(1), g[1])
}

func TestGradNormAccumulatesInFloat64(t *testing.T) {
	// After 1e4² = 1e8 a float32 sum has a spacing of 8 and would drop each +1; float64 keeps them.
	g := make([]float32, 1000)
	for i := range g {
		g[i] = 1
	}
	g[0] = 1e4
	assert.InDelta(t, math.Sqrt(1e8+999), GradNorm([]Param{{Grad: g}}), 1e-9)
}
