package main

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
)

// newBackend returns the compute backend for a --device value.
func newBackend(device string) (compute.Backend, error) {
	switch device {
	case "", "auto", "cpu":
		return cpu.New(), nil
	case "cuda":
		return nil, fmt.Errorf("device cuda: this build has no CUDA backend yet; use --device cpu")
	default:
		return nil, fmt.Errorf("device %q: want cpu, cuda or auto", device)
	}
}
