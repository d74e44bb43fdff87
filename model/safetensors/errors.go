// Package safetensors reads and writes Hugging Face safetensors files and model
// directories (single file or shards named by model.safetensors.index.json).
//
// A file is an 8-byte little-endian header length N, N bytes of JSON mapping
// tensor names to {dtype, shape, data_offsets} (plus an optional "__metadata__"
// string map), then the tensor data. Every offset and size in the header is
// validated before any tensor byte is read; tensors are read with ReadAt, so a
// file truncated after Open yields an error, never a fault.
package safetensors

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed marks a file whose layout or header breaks the format.
	ErrMalformed = errors.New("safetensors: malformed file")
	// ErrBadIndex marks a model.safetensors.index.json that cannot be trusted:
	// bad JSON, unsafe shard names, missing shards or weights, duplicates.
	ErrBadIndex = errors.New("safetensors: malformed index")
	// ErrNotFound is returned when a tensor name is not in the file or set.
	ErrNotFound = errors.New("safetensors: tensor not found")
	// ErrUnsupportedDType is returned when a tensor's dtype does not convert to float32.
	ErrUnsupportedDType = errors.New("safetensors: dtype does not convert to float32")
	// ErrInvalidTensor is returned by Write and WriteDir for tensors that cannot be written.
	ErrInvalidTensor = errors.New("safetensors: invalid tensor")
	// ErrClosed is returned when reading from a closed File or Set.
	ErrClosed = errors.New("safetensors: file already closed")
)

// malformed reports a file-level format error: "safetensors: malformed file: PATH: MSG".
func malformed(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, path, fmt.Sprintf(format, args...))
}

// malformedTensor reports a format error in one tensor's header entry.
func malformedTensor(path, name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: tensor %q: %s", ErrMalformed, path, name, fmt.Sprintf(format, args...))
}

// badIndex reports an index error: "safetensors: malformed index: PATH: MSG".
func badIndex(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadIndex, path, fmt.Sprintf(format, args...))
}
