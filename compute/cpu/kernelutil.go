package cpu

import "fmt"

// mustHaveLen panics unless a tensor has the length its shape implies. The
// Backend interface has no error results, so a wrong-sized buffer is a
// programming error; this turns a silent overrun or an index panic deep in a
// worker goroutine into a message naming the kernel, the tensor and its shape.
func mustHaveLen(op, tensor, formula string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("cpu.%s: %s has %d values, want %s = %d", op, tensor, got, formula, want))
	}
}
