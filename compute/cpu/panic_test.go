package cpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A panic inside a worker reaches the caller of parallelFor and
// forEachDynamic, where the CLI's recover can turn it into an error.
func TestWorkerPanicsReachTheCaller(t *testing.T) {
	be := &Backend{workers: 4}
	assert.PanicsWithValue(t, "boom", func() {
		be.parallelFor(100, func(lo, hi int) {
			if lo == 0 {
				panic("boom")
			}
		})
	})
	assert.PanicsWithValue(t, "boom", func() {
		be.forEachDynamic(100, func(i int) {
			if i == 42 {
				panic("boom")
			}
		})
	})
}
