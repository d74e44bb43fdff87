package recipes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Parse decodes a YAML recipe over the defaults. source names the file in error messages.
// Unknown keys and values of the wrong type are reported with their path and line before
// yaml's own decoder (with KnownFields as a second guard) fills the structs. Parse does not
// validate; Load does, after the overrides.
func Parse(data []byte, source string) (*Recipe, error) {
	if err := checkUTF8(source, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(source, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: the recipe is empty", ErrInvalid, source)
	}
	r := Default()
	r.origin = map[string]string{}
	if err := checkNode(doc.Content[0], reflect.TypeFor[Recipe](), "", source, r.origin); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadValue, source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: holds more than one YAML document; a recipe is one", ErrInvalid, source)
	}
	return r, nil
}

// checkNode verifies that node n can be decoded into type t: mappings only hold keys the
// struct has, scalars parse as the field's kind. It records where each key was set.
func checkNode(n *yaml.Node, t reflect.Type, path, source string, origin map[string]string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	where := fmt.Sprintf("%s:%d", source, n.Line)
	found := func() string {
		switch n.Kind {
		case yaml.MappingNode:
			return "a section of keys"
		case yaml.SequenceNode:
			return "a list"
		}
		if n.ShortTag() == "!!null" {
			return "no value"
		}
		return strconv.Quote(n.Value)
	}
	t = derefType(t)
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return valueError(where, orTop(path), "a section of keys", found())
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := lookupField(t, k.Value)
			if !ok {
				return &KeyError{Where: fmt.Sprintf("%s:%d", source, k.Line), Key: joinPath(path, k.Value), Section: path, Valid: validKeys(t)}
			}
			child := joinPath(path, k.Value)
			origin[child] = fmt.Sprintf("%s:%d", source, k.Line)
			if err := checkNode(v, f.typ, child, source, origin); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return valueError(where, path, describeKind(t), found())
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			return valueError(where, path, describeKind(t), fmt.Sprintf("%d items", len(n.Content)))
		}
		for i, item := range n.Content {
			if err := checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), source, origin); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return valueError(where, path, describeKind(t), found())
	}
	if !scalarFits(n, t.Kind()) {
		return valueError(where, path, describeKind(t), found())
	}
	return nil
}

// scalarFits reports whether a YAML scalar decodes into kind without loss; yaml.v3 alone
// would silently truncate 1.5 into an int field.
func scalarFits(n *yaml.Node, kind reflect.Kind) bool {
	tag := n.ShortTag()
	switch kind {
	case reflect.Bool:
		return tag == "!!bool"
	case reflect.Int, reflect.Int64, reflect.Int32:
		_, err := strconv.ParseInt(n.Value, 0, 64)
		return tag == "!!int" && err == nil
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		_, err := strconv.ParseUint(n.Value, 0, 64)
		return tag == "!!int" && err == nil
	case reflect.Float64, reflect.Float32:
		return tag == "!!int" || tag == "!!float"
	case reflect.String:
		return true
	}
	return false
}

func orTop(path string) string {
	if path == "" {
		return "the recipe"
	}
	return path
}
