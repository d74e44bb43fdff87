package cuda

import (
	"fmt"
	"unsafe"
)

// Driver API handles (cuda.h): devices are ints, everything else an opaque
// pointer; device memory addresses are 64-bit integers.
type (
	cuDevice    = int32
	cuContext   = uintptr
	cuStream    = uintptr
	cuModule    = uintptr
	cuFunction  = uintptr
	cuDevicePtr = uint64
)

// Device attributes (CUdevice_attribute) read by this package.
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

const (
	streamNonBlocking         = 1 // CU_STREAM_NON_BLOCKING
	funcAttrMaxDynamicShared  = 8 // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
	defaultDynamicSharedLimit = 48 << 10
)

// driver holds libcuda.so.1's entry points (the _v2 ones where the driver has
// them). Every function returns a CUresult; 0 is success.
type driver struct {
	lib *library

	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(v *int32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *cuDevice, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev cuDevice) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev cuDevice) int32
	cuDeviceTotalMem          func(bytes *uint64, dev cuDevice) int32
	cuDevicePrimaryCtxRetain  func(ctx *cuContext, dev cuDevice) int32
	cuDevicePrimaryCtxRelease func(dev cuDevice) int32
	cuCtxSetCurrent           func(ctx cuContext) int32
	cuStreamCreate            func(s *cuStream, flags uint32) int32
	cuStreamDestroy           func(s cuStream) int32
	cuStreamSynchronize       func(s cuStream) int32
	cuMemAlloc                func(p *cuDevicePtr, bytes uint64) int32
	cuMemFree                 func(p cuDevicePtr) int32
	cuMemGetInfo              func(free, total *uint64) int32
	cuMemcpyHtoDAsync         func(dst cuDevicePtr, src unsafe.Pointer, bytes uint64, s cuStream) int32
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src cuDevicePtr, bytes uint64, s cuStream) int32
	cuMemcpyDtoDAsync         func(dst, src cuDevicePtr, bytes uint64, s cuStream) int32
	cuMemsetD32Async          func(dst cuDevicePtr, v uint32, n uint64, s cuStream) int32
	cuModuleLoadData          func(m *cuModule, image unsafe.Pointer) int32
	cuModuleUnload            func(m cuModule) int32
	cuModuleGetFunction       func(f *cuFunction, m cuModule, name string) int32
	cuLaunchKernel            func(f cuFunction, gx, gy, gz, bx, by, bz, smem uint32, s cuStream, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuFuncSetAttribute        func(f cuFunction, attr, value int32) int32
	cuGetErrorName            func(res int32, name **byte) int32
	cuGetErrorString          func(res int32, s **byte) int32
}

// loadDriver dlopens libcuda.so.1 (installed by the NVIDIA driver, not by the
// toolkit) and binds its entry points.
func loadDriver() (*driver, error) {
	lib, err := openLibrary("libcuda.so.1", "libcuda.so")
	if err != nil {
		return nil, err
	}
	d := &driver{lib: lib}
	err = lib.bind(map[string]any{
		"cuInit":                       &d.cuInit,
		"cuDriverGetVersion":           &d.cuDriverGetVersion,
		"cuDeviceGetCount":             &d.cuDeviceGetCount,
		"cuDeviceGet":                  &d.cuDeviceGet,
		"cuDeviceGetName":              &d.cuDeviceGetName,
		"cuDeviceGetAttribute":         &d.cuDeviceGetAttribute,
		"cuDeviceTotalMem_v2":          &d.cuDeviceTotalMem,
		"cuDevicePrimaryCtxRetain":     &d.cuDevicePrimaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &d.cuDevicePrimaryCtxRelease,
		"cuCtxSetCurrent":              &d.cuCtxSetCurrent,
		"cuStreamCreate":               &d.cuStreamCreate,
		"cuStreamDestroy_v2":           &d.cuStreamDestroy,
		"cuStreamSynchronize":          &d.cuStreamSynchronize,
		"cuMemAlloc_v2":                &d.cuMemAlloc,
		"cuMemFree_v2":                 &d.cuMemFree,
		"cuMemGetInfo_v2":              &d.cuMemGetInfo,
		"cuMemcpyHtoDAsync_v2":         &d.cuMemcpyHtoDAsync,
		"cuMemcpyDtoHAsync_v2":         &d.cuMemcpyDtoHAsync,
		"cuMemcpyDtoDAsync_v2":         &d.cuMemcpyDtoDAsync,
		"cuMemsetD32Async":             &d.cuMemsetD32Async,
		"cuModuleLoadData":             &d.cuModuleLoadData,
		"cuModuleUnload":               &d.cuModuleUnload,
		"cuModuleGetFunction":          &d.cuModuleGetFunction,
		"cuLaunchKernel":               &d.cuLaunchKernel,
		"cuFuncSetAttribute":           &d.cuFuncSetAttribute,
		"cuGetErrorName":               &d.cuGetErrorName,
		"cuGetErrorString":             &d.cuGetErrorString,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// check turns a CUresult into an error naming the call, or nil on success.
func (d *driver) check(call string, res int32) error {
	if res == 0 {
		return nil
	}
	var name, desc *byte
	d.cuGetErrorName(res, &name)
	d.cuGetErrorString(res, &desc)
	return fmt.Errorf("cuda: %s: %s (%d): %s", call, cString(name), res, cString(desc))
}

// deviceInfo describes one GPU as doctor and the NVRTC cache key need it.
type deviceInfo struct {
	Ordinal      int
	Name         string
	Major, Minor int // compute capability
	SMs          int
	TotalMem     uint64
	Driver       int // e.g. 13000 for CUDA 13.0
}

// Arch is the NVRTC target, e.g. "sm_90".
func (di deviceInfo) Arch() string { return fmt.Sprintf("sm_%d%d", di.Major, di.Minor) }

func (di deviceInfo) String() string {
	return fmt.Sprintf("cuda:%d %s (%s, %d SMs, %.1f GiB, driver CUDA %d.%d)", di.Ordinal, di.Name, di.Arch(), di.SMs,
		float64(di.TotalMem)/(1<<30), di.Driver/1000, di.Driver%1000/10)
}

// probe initialises the driver and describes device ordinal; the error wraps
// ErrNoCUDA when the machine has no usable GPU.
func (d *driver) probe(ordinal int) (deviceInfo, cuDevice, error) {
	di := deviceInfo{Ordinal: ordinal}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return di, 0, fmt.Errorf("%w: %v", ErrNoCUDA, err)
	}
	var n, v int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return di, 0, fmt.Errorf("%w: %v", ErrNoCUDA, err)
	}
	if ordinal < 0 || ordinal >= int(n) {
		return di, 0, fmt.Errorf("%w: device %d requested, the driver sees %d", ErrNoCUDA, ordinal, n)
	}
	var dev cuDevice
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, int32(ordinal))); err != nil {
		return di, 0, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return di, 0, err
	}
	di.Name = cString(&name[0])
	for _, a := range []struct {
		attr int32
		dst  *int
	}{{attrComputeCapabilityMajor, &di.Major}, {attrComputeCapabilityMinor, &di.Minor}, {attrMultiprocessorCount, &di.SMs}} {
		if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, a.attr, dev)); err != nil {
			return di, 0, err
		}
		*a.dst = int(v)
	}
	if err := d.check("cuDeviceTotalMem", d.cuDeviceTotalMem(&di.TotalMem, dev)); err != nil {
		return di, 0, err
	}
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return di, 0, err
	}
	di.Driver = int(v)
	return di, dev, nil
}
