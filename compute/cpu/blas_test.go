package cpu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBLASDescribesPath(t *testing.T) {
	be := New()
	if be.blas != nil {
		require.Regexp(t, `^OpenBLAS( [0-9.]+)? \(libopenblas\.so(\.0)?(, \d+ threads?)?\)$`, be.BLAS())
		require.Equal(t, "pure Go (OpenBLAS available but not used by this backend)", NewPureGo().BLAS())
	} else {
		require.Regexp(t, `^pure Go \(.+\)$`, be.BLAS())
	}
	t.Log(be.BLAS())
}

func TestBLASEnvForcesPureGo(t *testing.T) {
	t.Setenv(blasEnv, "go")
	be := New()
	require.Nil(t, be.blas)
	require.Equal(t, "pure Go (POSTTRAIN_BLAS=go)", be.BLAS())
}

func TestOpenBLASMissingLibraryIsAnError(t *testing.T) {
	saved := openBLASNames
	t.Cleanup(func() { openBLASNames = saved })
	openBLASNames = []string{"libposttrain-no-such-blas.so.0"}

	lib, err := dlopenOpenBLAS()
	require.Nil(t, lib)
	require.ErrorContains(t, err, "libposttrain-no-such-blas.so.0 not found")
}

func TestOpenBLASThreadsCappedToGOMAXPROCS(t *testing.T) {
	t.Setenv("OPENBLAS_NUM_THREADS", "")
	t.Setenv("OMP_NUM_THREADS", "")
	threads := int32(8)
	lib := &openBLAS{getNumThreads: func() int32 { return threads }}
	set := func(n int32) { threads = n }

	lib.capThreads(set, 16)
	require.Equal(t, 8, lib.threads(), "fewer threads than the budget stay")
	lib.capThreads(set, 2)
	require.Equal(t, 2, lib.threads())

	t.Setenv("OMP_NUM_THREADS", "8")
	threads = 8
	lib.capThreads(set, 2)
	require.Equal(t, 8, lib.threads(), "an explicit OMP_NUM_THREADS wins")
}
