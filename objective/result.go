package objective

import (
	"errors"
	"fmt"
	"math"
)

// ErrInput is wrapped by every error about the shape or value of an input.
var ErrInput = errors.New("objective: invalid input")

// Result is one evaluated loss.
type Result struct {
	Loss float64
	// Grads holds d Loss / d input for every differentiated input, keyed by
	// the input's name ("chosen", "policy_chosen", "logp", ...), each the
	// same length as that input.
	Grads map[string][]float64
	// Metrics uses TRL's metric names where TRL has one.
	Metrics map[string]float64
}

// checkLen reports a slice whose length is not want.
func checkLen(fn, field string, x []float64, want int) error {
	if len(x) != want {
		return fmt.Errorf("%w: %s: %s has %d values, want %d", ErrInput, fn, field, len(x), want)
	}
	return nil
}

// checkNonEmpty reports an empty batch.
func checkNonEmpty(fn, field string, x []float64) error {
	if len(x) == 0 {
		return fmt.Errorf("%w: %s: %s is empty, want at least one value", ErrInput, fn, field)
	}
	return nil
}

// maskSum returns Σ mask and rejects masks that select nothing or hold
// negative or non-finite weights.
func maskSum(fn string, mask []float64) (float64, error) {
	var s float64
	for i, m := range mask {
		if m < 0 || math.IsNaN(m) || math.IsInf(m, 0) {
			return 0, fmt.Errorf("%w: %s: mask[%d] = %v, want a weight ≥ 0 (normally 0 or 1)", ErrInput, fn, i, m)
		}
		s += m
	}
	if s == 0 {
		return 0, fmt.Errorf("%w: %s: mask selects no token, want at least one non-zero entry", ErrInput, fn)
	}
	return s, nil
}

func mean(x []float64) float64 { return sum(x) / float64(len(x)) }

// maskedMean is Σ x·m / Σ m; mSum is Σ m, already checked > 0.
func maskedMean(x, m []float64, mSum float64) float64 {
	var s float64
	for i := range x {
		s += x[i] * m[i]
	}
	return s / mSum
}

// fractionGreater is the fraction of pairs with a[i] > b[i] strictly: a tie
// counts as wrong, like TRL's accuracies.
func fractionGreater(a, b []float64) float64 {
	var n int
	for i := range a {
		if a[i] > b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}
