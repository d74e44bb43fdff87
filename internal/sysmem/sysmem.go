// Package sysmem reports how much memory this process may still allocate, so
// that a model or batch too large for the machine is refused with an error
// before the allocation, not met by the kernel's OOM killer or a Go runtime
// "out of memory" fatal error (which no recover can catch).
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Info is the memory available and where the number came from.
type Info struct {
	Bytes  uint64
	Source string // "MemAvailable in /proc/meminfo", "cgroup memory.max", ...
}

// Available returns the smaller of the kernel's MemAvailable and the room
// left under this process's cgroup limit (v2 memory.max or v1
// memory.limit_in_bytes). ok is false when neither could be read (not Linux):
// callers then skip their check rather than refuse work.
func Available() (Info, bool) {
	return availableAt("/")
}

// availableAt reads the files under root, so tests can supply their own.
func availableAt(root string) (Info, bool) {
	var best Info
	found := false
	take := func(b uint64, src string) {
		if !found || b < best.Bytes {
			best, found = Info{Bytes: b, Source: src}, true
		}
	}
	if b, ok := memAvailable(filepath.Join(root, "proc/meminfo")); ok {
		take(b, "MemAvailable in /proc/meminfo")
	}
	cg := filepath.Join(root, "sys/fs/cgroup")
	if limit, ok := readUint(filepath.Join(cg, "memory.max")); ok {
		used, _ := readUint(filepath.Join(cg, "memory.current"))
		take(sub(limit, used), "the cgroup limit (memory.max minus memory.current)")
	} else if limit, ok := readUint(filepath.Join(cg, "memory/memory.limit_in_bytes")); ok && limit < 1<<62 {
		used, _ := readUint(filepath.Join(cg, "memory/memory.usage_in_bytes"))
		take(sub(limit, used), "the cgroup limit (memory.limit_in_bytes minus memory.usage_in_bytes)")
	}
	return best, found
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// memAvailable parses the "MemAvailable:  123456 kB" line.
func memAvailable(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// readUint reads a cgroup file holding one number; "max" (no limit) is not ok.
func readUint(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v, err == nil
}

// Format renders a byte count for messages: "1.5 GiB", "256.0 TiB".
func Format(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
