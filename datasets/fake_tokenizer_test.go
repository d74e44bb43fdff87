package datasets

import (
	"fmt"
	"strings"

	"github.com/posttrain/posttrain/tokenizer"
)

// fakeTokenizer is a byte-level tokenizer (id = byte value) with two specials, "<s>" (BOS) and
// "</t>" (end of turn, the EOS), and one merge, "ab" -> 300, so that tests can put a token
// across a prompt/completion boundary. Its chat template is
//
//	<s>[role]content</t>[role]content</t>...   (+ "[assistant]" as the generation prompt)
//
// and rejects roles other than system, user and assistant. trailer, when set, is written after
// a conversation rendered without a generation prompt, which makes the template
// prefix-inconsistent (some real templates are).
type fakeTokenizer struct {
	trailer string
	noEOS   bool
}

const (
	fakeBOS   int32 = 256
	fakeEOT   int32 = 257
	fakeMerge int32 = 300
)

var fakeSpecials = map[string]int32{"<s>": fakeBOS, "</t>": fakeEOT}

func (f fakeTokenizer) EncodeWithOffsets(text string, opts tokenizer.EncodeOptions) ([]int32, [][2]int) {
	var ids []int32
	var offsets [][2]int
	if opts.BOS {
		ids, offsets = append(ids, fakeBOS), append(offsets, [2]int{0, 0})
	}
next:
	for pos := 0; pos < len(text); {
		if opts.Special {
			for lit, id := range fakeSpecials {
				if strings.HasPrefix(text[pos:], lit) {
					ids, offsets = append(ids, id), append(offsets, [2]int{pos, pos + len(lit)})
					pos += len(lit)
					continue next
				}
			}
		}
		if strings.HasPrefix(text[pos:], "ab") {
			ids, offsets = append(ids, fakeMerge), append(offsets, [2]int{pos, pos + 2})
			pos += 2
			continue
		}
		ids, offsets = append(ids, int32(text[pos])), append(offsets, [2]int{pos, pos + 1})
		pos++
	}
	return ids, offsets
}

func (f fakeTokenizer) ApplyChatTemplate(messages []Message, addGenerationPrompt bool) (string, error) {
	var b strings.Builder
	for i, m := range messages {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return "", fmt.Errorf("role %q is not supported", m.Role)
		}
		if i == 0 {
			b.WriteString("<s>")
		}
		fmt.Fprintf(&b, "[%s]%s</t>", m.Role, m.Content)
	}
	if addGenerationPrompt {
		b.WriteString("[assistant]")
	} else {
		b.WriteString(f.trailer)
	}
	return b.String(), nil
}

func (f fakeTokenizer) BOS() int32 { return fakeBOS }

func (f fakeTokenizer) EOS() []int32 {
	if f.noEOS {
		return nil
	}
	return []int32{fakeEOT}
}

// fakeText decodes fake ids back to text.
func fakeText(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id == fakeBOS:
			b.WriteString("<s>")
		case id == fakeEOT:
			b.WriteString("</t>")
		case id == fakeMerge:
			b.WriteString("ab")
		case id >= 0 && id < 256:
			b.WriteByte(byte(id))
		default:
			fmt.Fprintf(&b, "<%d>", id)
		}
	}
	return b.String()
}

// labelled shows the text of the tokens that carry loss, runs separated by "|".
func labelled(ex Example) string {
	var runs []string
	var run []int32
	for t, l := range ex.Labels {
		if l != IgnoreIndex {
			if l != ex.IDs[t] {
				return fmt.Sprintf("label %d at %d is not the id %d", l, t, ex.IDs[t])
			}
			run = append(run, l)
			continue
		}
		if len(run) > 0 {
			runs, run = append(runs, fakeText(run)), nil
		}
	}
	if len(run) > 0 {
		runs = append(runs, fakeText(run))
	}
	return strings.Join(runs, "|")
}
