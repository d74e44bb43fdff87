package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The vocabulary (128k entries) and merges (280k) are most of tokenizer.json's
// 9 MB. encoding/json decodes them through reflection into maps, which takes
// most of a second; this small scanner reads just these two shapes directly and
// keeps Load well under that. Strings without escapes (nearly all of them, as
// byte-level tokens are printable) are sliced without a decoder.

type jsonScanner struct {
	data []byte
	pos  int
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// consume skips whitespace and reports whether the next byte is c, taking it if so.
func (s *jsonScanner) consume(c byte) bool {
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *jsonScanner) expect(c byte) error {
	if !s.consume(c) {
		return s.errorf("want %q", c)
	}
	return nil
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// str reads a JSON string.
func (s *jsonScanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.pos
	escaped := false
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '\\':
			escaped = true
			s.pos += 2
			continue
		case '"':
			s.pos++
			if !escaped {
				return string(s.data[start : s.pos-1]), nil
			}
			var out string
			if err := json.Unmarshal(s.data[start-1:s.pos], &out); err != nil {
				return "", s.errorf("bad string: %v", err)
			}
			return out, nil
		}
		s.pos++
	}
	return "", s.errorf("unterminated string")
}

// int32 reads a JSON integer.
func (s *jsonScanner) int32() (int32, error) {
	s.skipSpace()
	start := s.pos
	for s.pos < len(s.data) && (s.data[s.pos] == '-' || (s.data[s.pos] >= '0' && s.data[s.pos] <= '9')) {
		s.pos++
	}
	v, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 32)
	if err != nil {
		return 0, s.errorf("want an integer id: %v", err)
	}
	return int32(v), nil
}

// list calls item for each element of a JSON array.
func (s *jsonScanner) list(item func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.consume(']') {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if s.consume(']') {
			return nil
		}
		if err := s.expect(','); err != nil {
			return err
		}
	}
}

// vocabEntry is one "token": id pair of model.vocab, the token byte-level encoded.
type vocabEntry struct {
	token string
	id    int32
}

// scanVocab reads model.vocab, a JSON object of token -> id.
func scanVocab(raw []byte) ([]vocabEntry, error) {
	s := &jsonScanner{data: raw}
	entries := make([]vocabEntry, 0, bytes.Count(raw, []byte(`":`)))
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	if s.consume('}') {
		return entries, nil
	}
	for {
		token, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		id, err := s.int32()
		if err != nil {
			return nil, err
		}
		entries = append(entries, vocabEntry{token, id})
		if s.consume('}') {
			return entries, nil
		}
		if err := s.expect(','); err != nil {
			return nil, err
		}
	}
}

// scanMerges reads model.merges in either format: "left right" strings
// (tokenizers < 0.20) or ["left", "right"] pairs.
func scanMerges(raw []byte) ([][2]string, error) {
	s := &jsonScanner{data: raw}
	pairs := make([][2]string, 0, bytes.Count(raw, []byte(`",`))+1)
	err := s.list(func() error {
		s.skipSpace()
		if s.pos < len(s.data) && s.data[s.pos] == '[' {
			var pair []string
			if err := s.list(func() error {
				part, err := s.str()
				pair = append(pair, part)
				return err
			}); err != nil {
				return err
			}
			if len(pair) != 2 {
				return s.errorf("merge %d has %d parts, want 2", len(pairs), len(pair))
			}
			pairs = append(pairs, [2]string{pair[0], pair[1]})
			return nil
		}
		merge, err := s.str()
		if err != nil {
			return err
		}
		left, right, ok := bytesCut(merge)
		if !ok {
			return s.errorf("merge %d is %q, want \"left right\"", len(pairs), merge)
		}
		pairs = append(pairs, [2]string{left, right})
		return nil
	})
	return pairs, err
}

// bytesCut splits "left right" at its only space.
func bytesCut(merge string) (left, right string, ok bool) {
	for i := 0; i < len(merge); i++ {
		if merge[i] == ' ' {
			return merge[:i], merge[i+1:], i > 0 && i+1 < len(merge)
		}
	}
	return "", "", false
}
