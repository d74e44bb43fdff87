package recipes

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"
)

// yamlLine matches the position yaml.v3 puts in a syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3's parser (not scanner) errors. yaml.v3 reports
// their 0-based mark as the line number, one line too early (its decoder adds
// one for scanner errors only), so a recipe broken on line 7 was blamed on
// line 6. Messages from parserc.go of go.yaml.in/yaml/v3 v3.0.x.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// syntaxError turns a yaml.v3 syntax error into "source:LINE: message" with
// the line corrected.
func syntaxError(source string, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%w: %s: %w", ErrBadValue, source, err)
	}
	line, _ := strconv.Atoi(m[1])
	if slices.Contains(parserProblems, m[2]) {
		line++
	}
	return fmt.Errorf("%w: %s:%d: %s", ErrBadValue, source, line, m[2])
}

// checkUTF8 reports the line and column of the first invalid UTF-8 byte:
// yaml.v3 says only "invalid leading UTF-8 octet", or, inside a key, lets the
// decoder report the key as unknown or a field as missing.
func checkUTF8(source string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			line := bytes.Count(data[:i], []byte("\n")) + 1
			col := i - (bytes.LastIndexByte(data[:i], '\n') + 1) + 1
			return fmt.Errorf("%w: %s:%d:%d: invalid UTF-8 (byte 0x%02x); a recipe must be UTF-8 text", ErrBadValue, source, line, col, data[i])
		}
		i += n
	}
	return nil
}
