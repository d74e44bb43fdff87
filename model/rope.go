package model

import "math"

// RopeInvFreq returns the HD/2 rotary inverse frequencies of the config, with
// Llama 3.1's frequency scaling applied when rope_scaling.rope_type is llama3:
// long wavelengths (beyond original_max_position_embeddings/low_freq_factor) are
// divided by factor, short ones (below .../high_freq_factor) are kept, and those
// in between are interpolated smoothly. Computed in float64, rounded to float32.
func RopeInvFreq(c *Config) []float32 {
	hd := c.HeadDimension()
	out := make([]float32, hd/2)
	for i := range out {
		inv := 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(hd))
		if rs := c.RopeScaling; rs != nil && rs.RopeType == "llama3" {
			inv = llama3Scale(inv, rs)
		}
		out[i] = float32(inv)
	}
	return out
}

// llama3Scale follows transformers' _compute_llama3_parameters for one frequency.
func llama3Scale(inv float64, rs *RopeScaling) float64 {
	oldCtx := float64(rs.OriginalMaxPositionEmbeddings)
	lowFreqWavelen := oldCtx / rs.LowFreqFactor
	highFreqWavelen := oldCtx / rs.HighFreqFactor
	wavelen := 2 * math.Pi / inv
	switch {
	case wavelen < highFreqWavelen:
		return inv
	case wavelen > lowFreqWavelen:
		return inv / rs.Factor
	default:
		smooth := (oldCtx/wavelen - rs.LowFreqFactor) / (rs.HighFreqFactor - rs.LowFreqFactor)
		return (1-smooth)*inv/rs.Factor + smooth*inv
	}
}
