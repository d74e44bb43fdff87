package recipes

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// field is one YAML key of a recipe struct.
type field struct {
	key   string
	index int
	typ   reflect.Type
}

// yamlFields lists the keys of struct type t as written in YAML (from the yaml tags),
// skipping fields tagged "-" and unexported ones.
func yamlFields(t reflect.Type) []field {
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		fields = append(fields, field{key: key, index: i, typ: f.Type})
	}
	return fields
}

func lookupField(t reflect.Type, key string) (field, bool) {
	for _, f := range yamlFields(t) {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// validKeys returns the sorted YAML keys of struct type t.
func validKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range yamlFields(t) {
		keys = append(keys, f.key)
	}
	sort.Strings(keys)
	return keys
}

// derefType strips pointers: a *ModelInit section is written like a ModelInit.
func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// describeKind says in words what a value of type t looks like, for error messages.
func describeKind(t reflect.Type) string {
	switch derefType(t).Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a non-negative integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("a list of %d %s", t.Len(), plural(t.Elem()))
	case reflect.Struct:
		return "a section of keys"
	}
	return t.String()
}

func plural(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float64, reflect.Float32:
		return "numbers"
	case reflect.String:
		return "strings"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integers"
	}
	return t.String() + " values"
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// closestKey suggests the valid key nearest to key by edit distance, or "" when none is close.
func closestKey(key string, valid []string) string {
	best, bestDist := "", len(key)/3+2
	for _, v := range valid {
		if d := editDistance(key, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
