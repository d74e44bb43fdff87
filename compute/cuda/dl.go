package cuda

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrNoCUDA wraps every error that means "this machine cannot run the CUDA
// backend" (a library, a symbol or a device is missing), as opposed to a
// failure of a working GPU. Tests skip on it; commands fall back to the CPU.
var ErrNoCUDA = errors.New("cuda: not available")

// library is one shared object opened with purego.Dlopen.
type library struct {
	soname string
	handle uintptr
}

// openLibrary dlopens the first name that loads. The error names every
// attempt, so a user can see whether the library is missing or broken.
func openLibrary(names ...string) (*library, error) {
	var tries []string
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return &library{soname: name, handle: h}, nil
		}
		tries = append(tries, err.Error())
	}
	return nil, fmt.Errorf("%w: %s not found (%s)", ErrNoCUDA, names[0], strings.Join(tries, "; "))
}

// symbols binds each Go function pointer to the C symbol of the same entry.
// Dlsym is checked first, so a library without the symbol (an older CUDA)
// returns an error instead of the panic purego.RegisterLibFunc would raise.
func (l *library) bind(fns map[string]any) error {
	var missing []string
	for name, fptr := range fns {
		sym, err := purego.Dlsym(l.handle, name)
		if err != nil || sym == 0 {
			missing = append(missing, name)
			continue
		}
		purego.RegisterFunc(fptr, sym)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %s (a CUDA 12 or 13 installation is needed)", ErrNoCUDA, l.soname, strings.Join(missing, ", "))
	}
	return nil
}

// cString copies the NUL-terminated C string at p (nil gives "").
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cStrings returns NUL-terminated copies of ss and an array of pointers to
// them (char**); keep both alive until the C call returns.
func cStrings(ss []string) ([][]byte, []*byte) {
	bufs := make([][]byte, len(ss))
	ptrs := make([]*byte, len(ss))
	for i, s := range ss {
		bufs[i] = append([]byte(s), 0)
		ptrs[i] = &bufs[i][0]
	}
	return bufs, ptrs
}
