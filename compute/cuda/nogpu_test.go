package cuda_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cuda"
)

// On a machine without a GPU, New and Available say why instead of failing
// later or panicking.
func TestNewExplainsMissingGPU(t *testing.T) {
	desc, ok := cuda.Available()
	if ok {
		t.Skipf("a GPU is present (%s): nothing to check here", desc)
	}
	require.NotEmpty(t, desc)
	be, err := cuda.New()
	require.Error(t, err)
	require.Nil(t, be)
	require.True(t, errors.Is(err, cuda.ErrNoCUDA), "error %q wraps ErrNoCUDA", err)
	require.Regexp(t, `^cuda: not available: lib\w+\.so\.\d+ not found|device|cuInit`, err.Error())
}
