//go:build !amd64

package cpu

const hasExpAVX2 = false

func expShiftAVX2(dst, src []float32, shift float32) int { return 0 }

const hasAVX2 = false

func adamwAVX2(p, g, m, v []float32, c *adamwConsts) int { return 0 }
