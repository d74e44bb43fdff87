package recipes

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	ErrUnknownKey = errors.New("recipes: unknown key")
	ErrBadValue   = errors.New("recipes: bad value")
	ErrInvalid    = errors.New("recipes: invalid recipe")
	ErrNotFound   = errors.New("recipes: recipe not found")
)

// KeyError reports a key that the recipe structs do not have, with the keys that are valid
// at that level.
type KeyError struct {
	Where   string   // "sft.yaml:7" or `override "optim.learnig_rate=1"`
	Key     string   // the full dotted path, e.g. "optim.learning_rate"
	Section string   // the dotted path of the enclosing section; "" at the top level
	Valid   []string // the valid keys in Section, sorted
}

func (e *KeyError) Error() string {
	level := "at the top level"
	if e.Section != "" {
		level = "in " + e.Section
	}
	msg := fmt.Sprintf("%s: unknown key %q; valid keys %s: %s", e.Where, e.Key, level, strings.Join(e.Valid, ", "))
	last := e.Key[strings.LastIndex(e.Key, ".")+1:]
	if s := closestKey(last, e.Valid); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

func (e *KeyError) Unwrap() error { return ErrUnknownKey }

// valueError reports a value that cannot become the field's type.
func valueError(where, path, expected, found string) error {
	return fmt.Errorf("%w: %s: %s: expected %s, found %s", ErrBadValue, where, path, expected, found)
}
