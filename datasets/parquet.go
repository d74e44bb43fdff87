package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// readParquet calls visit for every row of a Parquet file (as written by Hugging Face datasets,
// i.e. Arrow: LIST columns of structs for conversations), with "file:row N" (1-based).
func readParquet(path string, visit func(f fields, where string, rowErr error) error) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	pf, err := openParquet(file, info.Size())
	if err != nil {
		return fmt.Errorf("datasets: opening %s as Parquet: %w", path, err)
	}
	reader := parquet.NewReader(pf)
	defer reader.Close()
	for rowNo := 1; ; rowNo++ {
		values := map[string]any{}
		if err := readParquetRow(reader, values); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("datasets: reading %s:row %d: %w", path, rowNo, err)
		}
		where := fmt.Sprintf("%s:row %d", path, rowNo)
		f, rowErr := parquetFields(values, where)
		if err := visit(f, where, rowErr); err != nil {
			return err
		}
	}
}

// parquetFields re-encodes a decoded Parquet row as raw JSON per column, so both file types
// share one validator and one set of error messages.
func parquetFields(values map[string]any, where string) (fields, error) {
	f := make(fields, len(values))
	for key, v := range values {
		// json.Marshal would replace bad bytes with U+FFFD silently. Only the text columns
		// are checked: other columns (ids, images as bytes) are never read.
		if slices.Contains(textColumns, key) && !validUTF8(v) {
			return nil, rowErrorf(where, key, "holds invalid UTF-8; the column must be UTF-8 text")
		}
		raw, err := json.Marshal(jsonValue(v))
		if err != nil {
			return nil, rowErrorf(where, key, "cannot be represented: %v", err)
		}
		f[key] = raw
	}
	return f, nil
}

// textColumns are the columns the row formats read as text.
var textColumns = []string{"messages", "prompt", "completion", "text", "chosen", "rejected"}

// validUTF8 reports whether every string or byte string in v is valid UTF-8.
func validUTF8(v any) bool {
	switch x := v.(type) {
	case []byte:
		return utf8.Valid(x)
	case string:
		return utf8.ValidString(x)
	case []any:
		for _, e := range x {
			if !validUTF8(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !validUTF8(e) {
				return false
			}
		}
	}
	return true
}

// jsonValue turns Parquet BYTE_ARRAY values ([]byte) into strings, recursively; json.Marshal
// would otherwise base64-encode them.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}

// parquet-go panics on some files and schemas it cannot map to Go values; that is bad input,
// not a bug here, so the two calls that decode the file turn a panic into an error.

func openParquet(file *os.File, size int64) (pf *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("parquet decoder failed: %v", p)
		}
	}()
	return parquet.OpenFile(file, size)
}

func readParquetRow(reader *parquet.Reader, values map[string]any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("parquet decoder failed: %v", p)
		}
	}()
	return reader.Read(&values)
}
