package cpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// blasEnv names the environment variable that forces the pure-Go GEMM
// (POSTTRAIN_BLAS=go), e.g. to compare paths or to rule OpenBLAS out of a bug.
const blasEnv = "POSTTRAIN_BLAS"

// openBLASNames are the sonames tried in order; the first is what Debian's and
// Ubuntu's libopenblas0-* packages install, the second a plain source build.
var openBLASNames = []string{"libopenblas.so.0", "libopenblas.so"}

// CBLAS enum values (cblas.h): CblasRowMajor, CblasNoTrans, CblasTrans.
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// openBLAS is a handle on libopenblas loaded at run time with purego, so the
// binary needs neither cgo nor the library at build time.
type openBLAS struct {
	soname string
	config string // openblas_get_config(), "" when the symbol is missing

	// sgemm is cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc).
	sgemm func(order, transA, transB, m, n, k int32, alpha float32,
		a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	getNumThreads func() int32 // nil when the symbol is missing
}

var (
	blasOnce sync.Once
	blasLib  *openBLAS
	blasErr  error // why blasLib is nil
)

// loadOpenBLAS returns the process-wide OpenBLAS handle, or nil when the
// library cannot be loaded or POSTTRAIN_BLAS=go asks for the pure-Go path.
func loadOpenBLAS() *openBLAS {
	if os.Getenv(blasEnv) == "go" {
		return nil
	}
	lib, _ := openBLASOnce()
	return lib
}

// openBLASOnce loads the library on first use and returns the handle or why
// there is none; the result is shared by every Backend of the process.
func openBLASOnce() (*openBLAS, error) {
	blasOnce.Do(func() { blasLib, blasErr = dlopenOpenBLAS() })
	return blasLib, blasErr
}

func dlopenOpenBLAS() (*openBLAS, error) {
	var handle uintptr
	var soname string
	var openErrs []string
	for _, name := range openBLASNames {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			handle, soname = h, name
			break
		}
		openErrs = append(openErrs, err.Error())
	}
	if handle == 0 {
		return nil, fmt.Errorf("%s not found (%s)", openBLASNames[0], strings.Join(openErrs, "; "))
	}

	lib := &openBLAS{soname: soname}
	sym, err := purego.Dlsym(handle, "cblas_sgemm")
	if err != nil {
		return nil, fmt.Errorf("%s has no cblas_sgemm: %w", soname, err)
	}
	purego.RegisterFunc(&lib.sgemm, sym)

	if sym, err := purego.Dlsym(handle, "openblas_get_num_threads"); err == nil {
		purego.RegisterFunc(&lib.getNumThreads, sym)
	}
	if sym, err := purego.Dlsym(handle, "openblas_set_num_threads"); err == nil {
		var setNumThreads func(int32)
		purego.RegisterFunc(&setNumThreads, sym)
		lib.capThreads(setNumThreads, runtime.GOMAXPROCS(0))
	}
	if sym, err := purego.Dlsym(handle, "openblas_get_config"); err == nil {
		var getConfig func() string
		purego.RegisterFunc(&getConfig, sym)
		lib.config = strings.TrimSpace(getConfig())
	}
	return lib, nil
}

// version returns "OpenBLAS 0.3.21" from the config string, or "OpenBLAS".
func (o *openBLAS) version() string {
	f := strings.Fields(o.config)
	if len(f) >= 2 && f[0] == "OpenBLAS" {
		return f[0] + " " + f[1]
	}
	return "OpenBLAS"
}

// capThreads lowers OpenBLAS's thread count to the Go kernels' core budget:
// OpenBLAS starts one thread per core, and a process limited by GOMAXPROCS
// (a container's CPU quota, a user's choice) would otherwise oversubscribe,
// which makes OpenMP's spinning threads collapse. An explicit
// OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is left as the user set it.
func (o *openBLAS) capThreads(set func(int32), maxThreads int) {
	if o.getNumThreads == nil || os.Getenv("OPENBLAS_NUM_THREADS") != "" || os.Getenv("OMP_NUM_THREADS") != "" {
		return
	}
	if o.threads() > maxThreads {
		set(int32(maxThreads))
	}
}

// threads is OpenBLAS's own thread count, 0 when it cannot say.
func (o *openBLAS) threads() int {
	if o.getNumThreads == nil {
		return 0
	}
	return int(o.getNumThreads())
}

// BLAS describes the GEMM path this backend uses, for `posttrain doctor`:
// "OpenBLAS 0.3.21 (libopenblas.so.0, 2 threads)" or
// "pure Go (libopenblas.so.0 not found (...))".
func (be *Backend) BLAS() string {
	if be.blas != nil {
		desc := be.blas.soname
		switch n := be.blas.threads(); {
		case n == 1:
			desc += ", 1 thread"
		case n > 1:
			desc += fmt.Sprintf(", %d threads", n)
		}
		return fmt.Sprintf("%s (%s)", be.blas.version(), desc)
	}
	return "pure Go (" + pureGoReason().Error() + ")"
}

// pureGoReason says why a backend without OpenBLAS has none.
func pureGoReason() error {
	if os.Getenv(blasEnv) == "go" {
		return errors.New(blasEnv + "=go")
	}
	if _, err := openBLASOnce(); err != nil {
		return err
	}
	return errors.New("OpenBLAS available but not used by this backend")
}
