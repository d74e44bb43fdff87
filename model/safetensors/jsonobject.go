package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// member is one key of a JSON object with its undecoded value, in file order.
type member struct {
	Key   string
	Value json.RawMessage
}

// decodeObject splits a JSON object into its members. Unlike json.Unmarshal
// into a map it rejects duplicate keys (a tensor or weight_map entry given
// twice is ambiguous, and readers would disagree on which one wins) and
// anything but whitespace after the closing brace.
func decodeObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object (starts with %v)", tok)
	}
	seen := map[string]bool{}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not valid JSON: object key %v is not a string", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("not valid JSON: value of %q: %w", key, err)
		}
		members = append(members, member{Key: key, Value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid JSON: data after the closing brace")
	}
	return members, nil
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// decodeString decodes a raw JSON value that must be a string (null is not).
func decodeString(raw json.RawMessage) (string, error) {
	if kind := jsonKind(raw); kind != "a string" {
		return "", fmt.Errorf("want a string, found %s", kind)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// decodeIntArray decodes a raw JSON array of integer literals. Each element is
// parsed from its own text so that null, 1.5, 1e3 or "4" are rejected rather
// than silently turned into zero or truncated.
func decodeIntArray(raw json.RawMessage) ([]int64, error) {
	if kind := jsonKind(raw); kind != "an array" {
		return nil, fmt.Errorf("want an array of integers, found %s", kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]int64, len(elems))
	for i, e := range elems {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(e)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %d is %s, want an integer that fits in int64", i, bytes.TrimSpace(e))
		}
		out[i] = v
	}
	return out, nil
}
