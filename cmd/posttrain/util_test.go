package main

import "math"

func relErr(got, want []float32, keep func(i int) bool) float64 {
	var num, den float64
	for i := range want {
		if keep != nil && !keep(i) {
			continue
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}
