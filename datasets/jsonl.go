package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/posttrain/posttrain/internal/fileio"
)

// readJSONL calls visit for every non-blank line of a JSON Lines file, with "file:line".
// A line that is not a JSON object reaches visit as a *RowError so the caller can skip it;
// I/O failures end the read.
func readJSONL(path string, visit func(f fields, where string, rowErr error) error) error {
	if err := fileio.CheckRegular(path, 0); err != nil { // a FIFO would block the open
		return fmt.Errorf("datasets: %w", err)
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	defer file.Close()
	return scanJSONL(file, path, visit)
}

// scanJSONL is readJSONL on an open stream; path names it in errors.
func scanJSONL(in io.Reader, path string, visit func(f fields, where string, rowErr error) error) error {
	r := bufio.NewReaderSize(in, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, size, readErr := readLine(r, MaxLineBytes)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return fmt.Errorf("datasets: reading %s:%d: %w", path, lineNo, readErr)
		}
		if size > MaxLineBytes {
			where := fmt.Sprintf("%s:%d", path, lineNo)
			rowErr := rowErrorf(where, "", "the line is %d bytes, more than the %d a row may have "+
				"(about %d tokens, beyond any model's context); split the document or drop the row", size, MaxLineBytes, MaxLineBytes/4)
			if err := visit(nil, where, rowErr); err != nil {
				return err
			}
			if errors.Is(readErr, io.EOF) {
				return nil
			}
			continue
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

// MaxLineBytes bounds one JSONL line. A row is held in memory several times
// over (raw, decoded, rendered, tokenized) and byte-level BPE of one long word
// costs about a second a megabyte, so an unbounded line is minutes of work and
// gigabytes for a row that max_length then cuts to a few tokens. 8 MiB is about
// two million tokens, 16x the longest Llama 3 context.
const MaxLineBytes = 8 << 20

// readLine reads up to the next '\n' (or EOF) and returns the line and its
// full size. A line longer than max is consumed but not kept: line is nil and
// size tells how long it was.
func readLine(r *bufio.Reader, max int) (line []byte, size int, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		size += len(chunk)
		if size <= max {
			line = append(line, chunk...)
		} else {
			line = nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, size, err
	}
}

func parseJSONLine(line []byte, where string) (fields, error) {
	if !utf8.Valid(line) {
		return nil, rowErrorf(where, "", "invalid UTF-8 at byte offset %d of the line; the file must be UTF-8 encoded "+
			"(convert it, e.g. iconv -f latin1 -t utf-8)", FirstInvalidUTF8(line))
	}
	if off, ok := loneSurrogate(line); !ok {
		return nil, rowErrorf(where, "", "a \\u escape at byte %d is half of a UTF-16 surrogate pair, which is not a character", off)
	}
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

// FirstInvalidUTF8 is the offset of the first byte of b that is not valid
// UTF-8, or len(b) when all of b is.
func FirstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// loneSurrogate finds a \uD800-\uDFFF escape that is not part of a high-low
// pair: encoding/json decodes it to U+FFFD without a word. ok is false and
// off its byte offset when there is one.
func loneSurrogate(line []byte) (off int, ok bool) {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(line) || line[i] != '\\' || line[i+1] != 'u' {
			return 0, false
		}
		var v rune
		for _, c := range line[i+2 : i+6] {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return v, true
	}
	for i := 0; i < len(line); i++ {
		if line[i] != '\\' || i+1 >= len(line) {
			continue
		}
		if line[i+1] != 'u' {
			i++ // skip the escaped character (\\ included)
			continue
		}
		v, isHex := hex4(i)
		switch {
		case !isHex:
		case v >= 0xD800 && v <= 0xDBFF:
			if lo, ok := hex4(i + 6); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return i, false
			}
			i += 11
			continue
		case v >= 0xDC00 && v <= 0xDFFF:
			return i, false
		}
		i += 5
	}
	return 0, true
}
