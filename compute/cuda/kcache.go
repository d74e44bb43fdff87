package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// The NVRTC output cache: compiling all kernels takes about a second, so each
// CUBIN is kept on disk under a key that changes whenever anything that
// affects the machine code changes.

// cacheDirEnv overrides the cache directory (tests, read-only homes).
const cacheDirEnv = "POSTTRAIN_CUDA_CACHE"

// compileOptions are the NVRTC flags for a device of the given architecture
// ("sm_90"). The include path lets kernels include cuda_bf16.h (GPU.md: NVRTC
// does not find it otherwise); fmad stays on (it is the nvcc default too).
func compileOptions(arch, includeDir string) []string {
	return []string{
		"--gpu-architecture=" + arch,
		"-std=c++17",
		"--include-path=" + includeDir,
		"-default-device",
	}
}

// cacheKey is the hex SHA-256 of everything that determines the CUBIN: the
// source, the options, the device (name and architecture) and the compiler.
func cacheKey(source string, opts []string, device, compiler string) string {
	h := sha256.New()
	for _, part := range append([]string{source, device, compiler}, opts...) {
		fmt.Fprintf(h, "%d:%s;", len(part), part) // length-prefixed: no two inputs collide by concatenation
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cubinCache stores CUBINs as <dir>/<key>.cubin.
type cubinCache struct {
	dir string // "" disables the cache
}

// defaultCacheDir is $POSTTRAIN_CUDA_CACHE, else <user cache dir>/posttrain/cuda.
func defaultCacheDir() string {
	if d := os.Getenv(cacheDirEnv); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "posttrain", "cuda")
}

func (c cubinCache) path(key string) string { return filepath.Join(c.dir, key+".cubin") }

// get returns the cached CUBIN or nil when there is none.
func (c cubinCache) get(key string) []byte {
	if c.dir == "" {
		return nil
	}
	data, err := os.ReadFile(c.path(key))
	if err != nil || len(data) == 0 {
		return nil
	}
	return data
}

// put writes the CUBIN atomically (temporary file, then rename) so a
// concurrent process never reads half a file. A failure only costs a later
// recompile, so it is returned for the caller to ignore or report.
func (c cubinCache) put(key string, cubin []byte) error {
	if c.dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("cuda: kernel cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, key+".*.tmp")
	if err != nil {
		return fmt.Errorf("cuda: kernel cache: %w", err)
	}
	_, werr := tmp.Write(cubin)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cuda: kernel cache: writing %s: %v %v", tmp.Name(), werr, cerr)
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cuda: kernel cache: %w", err)
	}
	return nil
}
