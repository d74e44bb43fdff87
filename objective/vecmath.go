package objective

// Small host-side vector helpers for constants and metrics. Each returns a
// new slice; a and b have equal lengths (checked by the callers).

func ones(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func reciprocals(counts []int) []float64 {
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = 1 / float64(c)
	}
	return out
}

func hadamard(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] * b[i]
	}
	return out
}

func subtract(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

func scaled(a []float64, c float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] * c
	}
	return out
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

func sumInts(x []int) int {
	var s int
	for _, v := range x {
		s += v
	}
	return s
}
