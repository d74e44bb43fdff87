package main

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/compute/cuda"
)

// newBackend returns the compute backend for a --device value; auto picks
// the GPU when one is usable.
func newBackend(device string) (compute.Backend, error) {
	switch device {
	case "cpu":
		return cpu.New(), nil
	case "", "auto":
		if _, ok := cuda.Available(); ok {
			return cuda.New()
		}
		return cpu.New(), nil
	case "cuda":
		be, err := cuda.New()
		if err != nil {
			return nil, fmt.Errorf("device cuda: %w (posttrain doctor says more; --device cpu runs without a GPU)", err)
		}
		return be, nil
	default:
		return nil, fmt.Errorf("device %q: want cpu, cuda or auto", device)
	}
}
