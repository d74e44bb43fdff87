package datasets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// fields is one record with its values still raw, so each can be type-checked by name.
type fields map[string]json.RawMessage

// has reports whether key is present and not null (Parquet writes null for absent columns).
func (f fields) has(key string) bool {
	v, ok := f[key]
	return ok && jsonKind(v) != "null"
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '[':
		return "list"
	case '{':
		return "object"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// detectFormat picks the layout from which fields are present, in TRL's precedence.
func detectFormat(f fields, where string) (Format, error) {
	switch {
	case f.has("chosen") || f.has("rejected"):
		return FormatPreference, nil
	case f.has("messages"):
		return FormatMessages, nil
	case f.has("prompt") && f.has("completion"):
		return FormatPromptCompletion, nil
	case f.has("text"):
		return FormatText, nil
	case f.has("prompt"):
		return FormatPrompt, nil
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return "", rowErrorf(where, "", "cannot tell the dataset format: expected messages, prompt+completion, text, "+
		"or chosen+rejected fields, found [%s] (name the format in the recipe to get a precise error)", strings.Join(keys, ", "))
}

// decodeRow validates one record against format and builds its Row.
func decodeRow(f fields, format Format, where string) (Row, error) {
	row := Row{Where: where, Format: format}
	var err error
	switch format {
	case FormatMessages:
		row.Messages, err = decodeMessages(f, "messages", where)
	case FormatText:
		row.Text, err = decodeString(f, "text", where)
		if err == nil && row.Text == "" {
			err = rowErrorf(where, "text", "is empty")
		}
	case FormatPrompt:
		row.Prompt, err = decodeContent(f, "prompt", where)
	case FormatPromptCompletion:
		err = decodePromptCompletion(f, &row)
	case FormatPreference:
		err = decodePreference(f, &row)
	default:
		err = fmt.Errorf("datasets: internal: decodeRow with format %q", format)
	}
	return row, err
}

func decodePromptCompletion(f fields, row *Row) error {
	var err error
	if row.Prompt, err = decodeContent(f, "prompt", row.Where); err != nil {
		return err
	}
	if row.Completion, err = decodeContent(f, "completion", row.Where); err != nil {
		return err
	}
	if err := sameShape(row.Prompt, row.Completion, "completion", row.Where); err != nil {
		return err
	}
	if !row.Completion.Conversational() && row.Completion.Text == "" {
		return rowErrorf(row.Where, "completion", "is empty")
	}
	return nil
}

func decodePreference(f fields, row *Row) error {
	var err error
	if row.Chosen, err = decodeContent(f, "chosen", row.Where); err != nil {
		return err
	}
	if row.Rejected, err = decodeContent(f, "rejected", row.Where); err != nil {
		return err
	}
	if err := sameShape(row.Chosen, row.Rejected, "rejected", row.Where); err != nil {
		return err
	}
	if f.has("margin") {
		var m float64
		if jsonKind(f["margin"]) != "number" || json.Unmarshal(f["margin"], &m) != nil {
			return rowErrorf(row.Where, "margin", "must be a number, found %s", jsonKind(f["margin"]))
		}
		row.Margin, row.HasMargin = float32(m), true
	}
	if f.has("prompt") {
		if row.Prompt, err = decodeContent(f, "prompt", row.Where); err != nil {
			return err
		}
		if err := sameShape(row.Prompt, row.Chosen, "chosen", row.Where); err != nil {
			return err
		}
	} else {
		extractImplicitPrompt(row)
	}
	if contentEqual(row.Chosen, row.Rejected) {
		return rowErrorf(row.Where, "rejected", "is identical to \"chosen\": the pair carries no preference")
	}
	if row.Chosen.Conversational() && len(row.Chosen.Messages) == 0 {
		return rowErrorf(row.Where, "chosen", "has no messages after the prompt")
	}
	if row.Rejected.Conversational() && len(row.Rejected.Messages) == 0 {
		return rowErrorf(row.Where, "rejected", "has no messages after the prompt")
	}
	return nil
}

// extractImplicitPrompt splits a pair without a "prompt" field, as TRL's extract_prompt does:
// conversations share their leading messages; plain strings share a character prefix, and a
// space just before the divergence point goes to the completions.
func extractImplicitPrompt(row *Row) {
	c, r := row.Chosen, row.Rejected
	if c.Conversational() {
		n := 0
		for n < len(c.Messages) && n < len(r.Messages) && c.Messages[n] == r.Messages[n] {
			n++
		}
		row.Prompt = Content{Messages: c.Messages[:n:n]}
		row.Chosen = Content{Messages: c.Messages[n:]}
		row.Rejected = Content{Messages: r.Messages[n:]}
		return
	}
	n := 0
	for n < len(c.Text) && n < len(r.Text) && c.Text[n] == r.Text[n] {
		n++
	}
	// Never split inside a UTF-8 sequence: back up to a rune boundary.
	for n > 0 && n < len(c.Text) && !isRuneStart(c.Text[n]) {
		n--
	}
	if n > 0 && c.Text[n-1] == ' ' {
		n--
	}
	row.Prompt = Content{Text: c.Text[:n]}
	row.Chosen = Content{Text: c.Text[n:]}
	row.Rejected = Content{Text: r.Text[n:]}
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func contentEqual(a, b Content) bool {
	return a.Conversational() == b.Conversational() && a.Text == b.Text && slices.Equal(a.Messages, b.Messages)
}

// sameShape requires b to be plain or conversational exactly when a is.
func sameShape(a, b Content, field, where string) error {
	if a.Conversational() == b.Conversational() {
		return nil
	}
	if a.Conversational() {
		return rowErrorf(where, field, "must be a list of {role, content} like the other fields of this row, found string")
	}
	return rowErrorf(where, field, "must be a string like the other fields of this row, found list")
}

func decodeString(f fields, key, where string) (string, error) {
	v, ok := f[key]
	if !ok {
		return "", rowErrorf(where, key, "is missing")
	}
	if k := jsonKind(v); k != "string" {
		return "", rowErrorf(where, key, "must be a string, found %s", k)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", rowErrorf(where, key, "is not a valid string: %v", err)
	}
	return s, nil
}

// decodeContent reads a field that is either plain text or a conversation.
func decodeContent(f fields, key, where string) (Content, error) {
	v, ok := f[key]
	if !ok {
		return Content{}, rowErrorf(where, key, "is missing")
	}
	switch k := jsonKind(v); k {
	case "string":
		s, err := decodeString(f, key, where)
		return Content{Text: s}, err
	case "list":
		msgs, err := decodeMessages(f, key, where)
		return Content{Messages: msgs}, err
	default:
		return Content{}, rowErrorf(where, key, "must be a string or a list of {role, content}, found %s", k)
	}
}

// KnownRoles are the message roles chat templates of the Llama family (and
// OpenAI-style datasets) give a meaning to; anything else is a typo or a
// format this package does not understand. "ipython" is Llama 3.1's tool
// output role, "developer" OpenAI's name for system.
var KnownRoles = []string{"system", "developer", "user", "assistant", "tool", "ipython"}

// decodeMessages reads a non-empty list of {role, content} objects.
func decodeMessages(f fields, key, where string) ([]Message, error) {
	v, ok := f[key]
	if !ok {
		return nil, rowErrorf(where, key, "is missing")
	}
	if k := jsonKind(v); k != "list" {
		return nil, rowErrorf(where, key, "must be a list of {role, content}, found %s", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, rowErrorf(where, key, "is not a valid list: %v", err)
	}
	if len(items) == 0 {
		return nil, rowErrorf(where, key, "is an empty conversation")
	}
	msgs := make([]Message, len(items))
	for i, item := range items {
		name := fmt.Sprintf("%s[%d]", key, i)
		if k := jsonKind(item); k != "object" {
			return nil, rowErrorf(where, name, "must be a {role, content} object, found %s", k)
		}
		var m fields
		if err := json.Unmarshal(item, &m); err != nil {
			return nil, rowErrorf(where, name, "is not a valid object: %v", err)
		}
		role, err := decodeString(m, "role", where)
		if err != nil {
			return nil, renameField(err, name+".")
		}
		if role == "" {
			return nil, rowErrorf(where, name+".role", "is empty")
		}
		if !slices.Contains(KnownRoles, role) {
			return nil, rowErrorf(where, name+".role", "is %q, not a known role (want one of %s)", role, strings.Join(KnownRoles, ", "))
		}
		if (role == "system" || role == "developer") && i > 0 && msgs[i-1].Role != "system" && msgs[i-1].Role != "developer" {
			return nil, rowErrorf(where, name+".role", "is %q after a %q message; system instructions come first in a conversation",
				role, msgs[i-1].Role)
		}
		content, err := decodeString(m, "content", where)
		if err != nil {
			return nil, renameField(err, name+".")
		}
		msgs[i] = Message{Role: role, Content: content}
	}
	return msgs, nil
}

// renameField prefixes the field of a RowError raised on a nested object.
func renameField(err error, prefix string) error {
	if re, ok := err.(*RowError); ok {
		re.Field = prefix + re.Field
	}
	return err
}
