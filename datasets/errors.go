package datasets

import (
	"errors"
	"fmt"
)

// ErrBadRow is matched (errors.Is) by every error that rejects one input row.
var ErrBadRow = errors.New("datasets: bad row")

// RowError rejects one row. Where is "file:line" for JSONL and "file:row N" for Parquet
// (both 1-based); Field names the offending field ("messages[2].role"), empty when the
// problem is the row as a whole (malformed JSON).
type RowError struct {
	Where string
	Field string
	Msg   string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Where, e.Msg)
	}
	return fmt.Sprintf("%s: field %q %s", e.Where, e.Field, e.Msg)
}

// Is makes errors.Is(err, ErrBadRow) true for every RowError.
func (e *RowError) Is(target error) bool { return target == ErrBadRow }

func rowErrorf(where, field, format string, args ...any) *RowError {
	return &RowError{Where: where, Field: field, Msg: fmt.Sprintf(format, args...)}
}
