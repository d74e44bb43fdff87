package safetensors

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeFile returns the bytes Write would put in a file.
func encodeFile(t testing.TB, tensors []Tensor, metadata map[string]string, dtype DType) []byte {
	t.Helper()
	require.NoError(t, checkTensors(tensors, dtype))
	header, err := encodeHeader(tensors, metadata, dtype)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, writeFileBody(&buf, header, tensors, dtype))
	return buf.Bytes()
}

// rawFile builds a file from a literal header and data section, without padding.
func rawFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// splitFile returns the header JSON and data section of a well-formed file.
func splitFile(t testing.TB, file []byte) (header, data []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(file), 8)
	n := binary.LittleEndian.Uint64(file[:8])
	require.LessOrEqual(t, n, uint64(len(file)-8))
	return file[8 : 8+n], file[8+n:]
}
