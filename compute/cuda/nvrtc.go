package cuda

import (
	"fmt"
	"runtime"
	"strings"
)

// nvrtc holds libnvrtc's entry points: the run-time compiler that turns the
// embedded kernels/*.cu into a CUBIN for the device in hand.
type nvrtc struct {
	lib *library

	nvrtcVersion           func(major, minor *int32) int32
	nvrtcCreateProgram     func(prog *uintptr, src, name string, nHeaders int32, headers, includeNames **byte) int32
	nvrtcCompileProgram    func(prog uintptr, nOpts int32, opts **byte) int32
	nvrtcGetCUBINSize      func(prog uintptr, size *uint64) int32
	nvrtcGetCUBIN          func(prog uintptr, cubin *byte) int32
	nvrtcGetProgramLogSize func(prog uintptr, size *uint64) int32
	nvrtcGetProgramLog     func(prog uintptr, log *byte) int32
	nvrtcDestroyProgram    func(prog *uintptr) int32
	nvrtcGetErrorString    func(res int32) string
}

// nvrtcNames are tried in order: CUDA 13 (GPU.md), then CUDA 12.
var nvrtcNames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}

func loadNVRTC() (*nvrtc, error) {
	lib, err := openLibrary(nvrtcNames...)
	if err != nil {
		return nil, err
	}
	n := &nvrtc{lib: lib}
	err = lib.bind(map[string]any{
		"nvrtcVersion":           &n.nvrtcVersion,
		"nvrtcCreateProgram":     &n.nvrtcCreateProgram,
		"nvrtcCompileProgram":    &n.nvrtcCompileProgram,
		"nvrtcGetCUBINSize":      &n.nvrtcGetCUBINSize,
		"nvrtcGetCUBIN":          &n.nvrtcGetCUBIN,
		"nvrtcGetProgramLogSize": &n.nvrtcGetProgramLogSize,
		"nvrtcGetProgramLog":     &n.nvrtcGetProgramLog,
		"nvrtcDestroyProgram":    &n.nvrtcDestroyProgram,
		"nvrtcGetErrorString":    &n.nvrtcGetErrorString,
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// version is "13.0" style, part of the cache key (a new compiler may emit
// different code for the same source).
func (n *nvrtc) version() string {
	var major, minor int32
	if n.nvrtcVersion(&major, &minor) != 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", major, minor)
}

func (n *nvrtc) check(call string, res int32) error {
	if res == 0 {
		return nil
	}
	return fmt.Errorf("nvrtc: %s: %s (%d)", call, n.nvrtcGetErrorString(res), res)
}

// compile builds src (named name in messages) to a CUBIN with opts; the error
// carries the compiler log, which names the line of the .cu file that failed.
func (n *nvrtc) compile(name, src string, opts []string) ([]byte, error) {
	var prog uintptr
	if err := n.check("nvrtcCreateProgram", n.nvrtcCreateProgram(&prog, src, name, 0, nil, nil)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer n.nvrtcDestroyProgram(&prog)

	bufs, ptrs := cStrings(opts)
	var optsPtr **byte
	if len(ptrs) > 0 {
		optsPtr = &ptrs[0]
	}
	res := n.nvrtcCompileProgram(prog, int32(len(ptrs)), optsPtr)
	runtime.KeepAlive(bufs)
	if res != 0 {
		return nil, fmt.Errorf("%s: %w\n%s", name, n.check("nvrtcCompileProgram", res), n.log(prog))
	}
	var size uint64
	if err := n.check("nvrtcGetCUBINSize", n.nvrtcGetCUBINSize(prog, &size)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cubin := make([]byte, size)
	if size == 0 {
		return nil, fmt.Errorf("%s: nvrtc produced an empty CUBIN (options %s)", name, strings.Join(opts, " "))
	}
	if err := n.check("nvrtcGetCUBIN", n.nvrtcGetCUBIN(prog, &cubin[0])); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cubin, nil
}

func (n *nvrtc) log(prog uintptr) string {
	var size uint64
	if n.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	buf := make([]byte, size)
	if n.nvrtcGetProgramLog(prog, &buf[0]) != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00\n")
}
