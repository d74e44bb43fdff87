package recipes

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// ShortKeys lets the most common overrides drop their section, as in
// `posttrain run sft-tiny output_dir=A max_steps=40 save_steps=5`.
var ShortKeys = map[string]string{
	"max_steps": "train.max_steps", "save_steps": "train.save_steps", "eval_steps": "train.eval_steps",
	"logging_steps": "train.logging_steps", "seed": "train.seed", "batch_size": "train.batch_size",
	"grad_accum": "train.grad_accum", "lr": "optim.lr",
}

// Override applies one command-line override "path.to.key=value" to r. The path follows the
// YAML keys (optim.lr, lora.target_modules); the value is parsed as the field's type: numbers,
// true/false, and lists written as a,b,c or [a, b, c]. An empty value clears a string or list.
func Override(r *Recipe, kv string) error {
	key, value, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	where := fmt.Sprintf("override %q", kv)
	if !ok || key == "" {
		return fmt.Errorf("%w: %s: expected key=value, e.g. optim.lr=1e-5", ErrBadValue, where)
	}
	if full, ok := ShortKeys[key]; ok {
		key = full
	}
	v := reflect.ValueOf(r).Elem()
	path := ""
	for part := range strings.SplitSeq(key, ".") {
		v = derefValue(v)
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("%w: %s: %s is %s and has no key %q", ErrUnknownKey, where, path, describeKind(v.Type()), part)
		}
		f, found := lookupField(v.Type(), part)
		if !found {
			return &KeyError{Where: where, Key: joinPath(path, part), Section: path, Valid: validKeys(v.Type())}
		}
		v = v.Field(f.index)
		path = joinPath(path, part)
	}
	if v.Kind() == reflect.Pointer && (value == "" || value == "null") {
		// An optional section is removed with an empty value: model.init= .
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	v = derefValue(v)
	if v.Kind() == reflect.Struct {
		keys := validKeys(v.Type())
		return fmt.Errorf("%w: %s: %s is a section; set one of its keys as %s.KEY=VALUE (keys: %s)",
			ErrBadValue, where, path, path, strings.Join(keys, ", "))
	}
	if err := setFromString(v, value, where, path); err != nil {
		return err
	}
	if r.origin == nil {
		r.origin = map[string]string{}
	}
	r.origin[path] = where
	return nil
}

// derefValue follows pointers, allocating nil ones so an override can reach model.init.*.
func derefValue(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	return v
}

// setFromString parses s as v's type and stores it; v is addressable. A value that fails to
// parse leaves v unchanged.
func setFromString(v reflect.Value, s, where, path string) error {
	parsed := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		items := splitList(s)
		if v.Kind() == reflect.Array && len(items) != v.Len() {
			return valueError(where, path, describeKind(v.Type()), fmt.Sprintf("%d items in %q", len(items), s))
		}
		if v.Kind() == reflect.Slice {
			parsed.Set(reflect.MakeSlice(v.Type(), len(items), len(items)))
		}
		for i, item := range items {
			if item == "" {
				return valueError(where, fmt.Sprintf("%s[%d]", path, i), describeKind(v.Type()), fmt.Sprintf("an empty item in %q", s))
			}
			if err := setScalar(parsed.Index(i), item); err != nil {
				return valueError(where, fmt.Sprintf("%s[%d]", path, i), describeKind(v.Type()), strconv.Quote(s))
			}
		}
	default:
		if err := setScalar(parsed, strings.TrimSpace(s)); err != nil {
			return valueError(where, path, describeKind(v.Type()), strconv.Quote(s))
		}
	}
	v.Set(parsed)
	return nil
}

// splitList reads "a,b", "[a, b]" or "" (empty list), trimming spaces and quotes.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return parts
}

func setScalar(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 0, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		n, err := strconv.ParseUint(s, 0, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}
