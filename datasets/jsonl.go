package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// readJSONL calls visit for every non-blank line of a JSON Lines file, with "file:line".
// A line that is not a JSON object reaches visit as a *RowError so the caller can skip it;
// I/O failures end the read.
func readJSONL(path string, visit func(f fields, where string, rowErr error) error) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 1<<20)
	for lineNo := 1; ; lineNo++ {
		// ReadBytes, not bufio.Scanner: a long document on one line must not hit a token limit.
		line, readErr := r.ReadBytes('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return fmt.Errorf("datasets: reading %s:%d: %w", path, lineNo, readErr)
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte-order mark
			if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '[' {
				return fmt.Errorf("datasets: %s holds a JSON array; expected JSON Lines, one object a line "+
					"(Hugging Face: dataset.to_json(path, lines=True))", path)
			}
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			where := fmt.Sprintf("%s:%d", path, lineNo)
			f, rowErr := parseJSONLine(t, where)
			if err := visit(f, where, rowErr); err != nil {
				return err
			}
		}
		if errors.Is(readErr, io.EOF) {
			return nil
		}
	}
}

func parseJSONLine(line []byte, where string) (fields, error) {
	if !json.Valid(line) {
		var probe any
		err := json.Unmarshal(line, &probe)
		return nil, rowErrorf(where, "", "malformed JSON: %v", err)
	}
	if k := jsonKind(line); k != "object" {
		return nil, rowErrorf(where, "", "line must be a JSON object, found %s", k)
	}
	var f fields
	if err := json.Unmarshal(line, &f); err != nil {
		return nil, rowErrorf(where, "", "malformed JSON: %v", err)
	}
	return f, nil
}
