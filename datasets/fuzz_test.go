package datasets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoadJSONL feeds arbitrary bytes to the JSONL reader. It must never
// panic; every row it keeps names its file:line and holds valid UTF-8 (bad
// bytes are an error, never a silent U+FFFD); every rejection is a RowError
// with the same file:line form.
//
//	go test -run=NONE -fuzz=FuzzLoadJSONL -fuzztime=10s ./datasets
func FuzzLoadJSONL(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`,
		`{"prompt":"2+2=","completion":"4"}` + "\n" + `{"text":"x"}`,
		`{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
		"\xef\xbb\xbf{\"text\":\"bom\"}\n\n",
		`{"text":"\ud83d\ude00 \udc00"}`,
		"{\"text\":\"caf\xe9\"}",
		`[{"text":"array"}]`,
		`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"system","content":"late"}]}`,
	} {
		f.Add([]byte(seed))
	}
	const path = "d.jsonl"
	f.Fuzz(func(t *testing.T, data []byte) {
		// Load's visit, on the stream: no file per input keeps the fuzzer fast.
		var rows []Row
		format := FormatAuto
		err := scanJSONL(bytes.NewReader(data), path, func(fl fields, where string, rowErr error) error {
			row, err := acceptRow(fl, where, rowErr, &format)
			if err != nil {
				if !errors.Is(err, ErrBadRow) {
					return err
				}
				if !strings.HasPrefix(err.Error(), path+":") {
					t.Fatalf("rejected row without file:line: %v", err)
				}
				return nil
			}
			rows = append(rows, row)
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Fatalf("error does not name the file: %v", err)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.Where, path+":") {
				t.Fatalf("row without file:line: %q", r.Where)
			}
			for _, s := range rowStrings(r) {
				if !utf8.ValidString(s) {
					t.Fatalf("%s: invalid UTF-8 kept: %q", r.Where, s)
				}
			}
		}
	})
}

// rowStrings lists every text a row carries.
func rowStrings(r Row) []string {
	out := []string{r.Text}
	for _, c := range []Content{r.Prompt, r.Completion, r.Chosen, r.Rejected} {
		out = append(out, c.Text)
		for _, m := range c.Messages {
			out = append(out, m.Role, m.Content)
		}
	}
	for _, m := range r.Messages {
		out = append(out, m.Role, m.Content)
	}
	return out
}
