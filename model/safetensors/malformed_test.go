package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withLength builds a file whose 8-byte prefix claims n header bytes.
func withLength(n uint64, rest []byte) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func TestParseRejectsMalformed(t *testing.T) {
	const okEntry = `"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	tests := []struct {
		name   string
		file   []byte
		tensor string // named in the error when the fault is in one tensor
		want   string
	}{
		{"shorter than 8 bytes", []byte{1, 0, 0}, "", "shorter than the 8-byte header length"},
		{"empty file", nil, "", "file is 0 bytes"},
		{"header length over the limit", withLength(MaxHeaderBytes+1, []byte("{}")), "", "exceeds the limit"},
		{"header length near 2^64", withLength(^uint64(0), []byte("{}")), "", "exceeds the limit"},
		{"header length past end of file", withLength(100, []byte("{}      ")), "", "exceeds the 8 bytes after"},
		{"header not JSON", rawFile(`{"a":`, nil), "", "not valid JSON"},
		{"header garbage", rawFile("\x00\x01\x02", nil), "", "not valid JSON"},
		{"header not an object", rawFile(`[1,2]`, nil), "", "not a JSON object"},
		{"header is a string", rawFile(`"x"`, nil), "", "not a JSON object"},
		{"data after object", rawFile(`{} {}`, nil), "", "data after the closing brace"},
		{"trailing comma", rawFile(`{"a":1,}`, nil), "", "not valid JSON"},
		{"duplicate tensor", rawFile(`{`+okEntry+`,`+okEntry+`}`, make([]byte, 4)), "", `key "ok" appears twice`},
		{"metadata not strings", rawFile(`{"__metadata__":{"n":1}}`, nil), "", `key "n": want a string, found a number`},
		{"metadata not object", rawFile(`{"__metadata__":[]}`, nil), "", "__metadata__"},
		{"entry not object", rawFile(`{"w":5}`, nil), "w", "entry is a number"},
		{"missing dtype", rawFile(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", `field "dtype" is missing`},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "w", `field "shape" is missing`},
		{"missing data_offsets", rawFile(`{"w":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "w", `field "data_offsets" is missing`},
		{"dtype not string", rawFile(`{"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "dtype: want a string, found a number"},
		{"dtype null", rawFile(`{"w":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "dtype: want a string, found null"},
		{"dtype empty", rawFile(`{"w":{"dtype":"","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "dtype is empty"},
		{"shape not array", rawFile(`{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, make([]byte, 4)), "w", "shape: want an array of integers, found a string"},
		{"shape null", rawFile(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "shape: want an array of integers, found null"},
		{"shape fractional", rawFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "element 0 is 1.5"},
		{"shape null element", rawFile(`{"w":{"dtype":"F32","shape":[null],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "element 0 is null"},
		{"shape too big for int64", rawFile(`{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "fits in int64"},
		{"data_offsets not array", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":{"a":0}}}`, make([]byte, 4)), "w", "data_offsets: want an array of integers, found an object"},
		{"data_offsets string element", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}`, make([]byte, 4)), "w", `element 1 is "4"`},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "negative dimension"},
		{"shape product overflows", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "overflows int64"},
		{"bytes overflow int64", rawFile(`{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "want 2305843009213693952 elements"},
		{"one offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, make([]byte, 4)), "w", "has 1 elements, want [begin, end]"},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "w", "has 3 elements"},
		{"begin after end", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), "w", "want 0 <= begin <= end"},
		{"negative begin", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 8)), "w", "want 0 <= begin <= end"},
		{"end beyond data", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 7)), "w", "beyond the data section of 7 bytes"},
		{"length not shape × size", rawFile(`{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "give 8 bytes, want 3 elements (shape [3]) × 2 bytes (BF16)"},
		{"bool length", rawFile(`{"w":{"dtype":"BOOL","shape":[3],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "give 4 bytes, want 3 elements"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "b", `overlap tensor "a"`},
		{"overlap out of order", rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[5,6]},"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, make([]byte, 8)), "b", `overlap tensor "a"`},
		{"same range twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "", "overlap tensor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.safetensors", tt.file)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.ErrorContains(t, err, "bad.safetensors")
			assert.ErrorContains(t, err, tt.want)
			if tt.tensor != "" {
				assert.ErrorContains(t, err, `tensor "`+tt.tensor+`"`)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		file  []byte
		names []string
	}{
		{"empty header", rawFile(`{}`, nil), nil},
		{"null metadata", rawFile(`{"__metadata__":null}`, nil), nil},
		{"padding spaces", rawFile(`{}      `, nil), nil},
		{"zero-size tensors share an offset", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"I8","shape":[0,3],"data_offsets":[4,4]}}`, make([]byte, 4)), []string{"a", "b", "c"}},
		{"unknown dtype keeps any length", rawFile(`{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, make([]byte, 2)), []string{"q"}},
		{"hole between tensors", rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 4)), []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("ok.safetensors", tt.file)
			require.NoError(t, err)
			if tt.names == nil {
				assert.Empty(t, f.Names())
			} else {
				assert.Equal(t, tt.names, f.Names())
			}
		})
	}
}

func TestOpenRejectsMalformed(t *testing.T) {
	dir := t.TempDir()
	tests := map[string][]byte{
		"short.safetensors":     {1, 2},
		"truncated.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 12)),
	}
	for name, file := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, file, 0o644))
			_, err := Open(path)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.ErrorContains(t, err, path)
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := Open(dir)
		assert.ErrorContains(t, err, "not a regular file")
	})
	t.Run("missing", func(t *testing.T) {
		_, err := Open(filepath.Join(dir, "nope.safetensors"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
