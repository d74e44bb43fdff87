package model

import (
	"errors"
	"fmt"
)

// ErrNonFiniteWeights is wrapped when a checkpoint holds a NaN or infinite
// weight: training or sampling from it would only spread the NaNs.
var ErrNonFiniteWeights = errors.New("model: non-finite weight")

// CheckFinite returns an error naming tensor name (read from file) when data
// holds a NaN or ±Inf.
func CheckFinite(file, name string, data []float32) error {
	for i, v := range data {
		if v-v != 0 { // NaN and ±Inf
			return fmt.Errorf("%w: %s: tensor %q holds %v at index %d; the checkpoint is damaged or came from a diverged run",
				ErrNonFiniteWeights, file, name, v, i)
		}
	}
	return nil
}
