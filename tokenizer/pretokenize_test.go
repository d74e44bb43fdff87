package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// splitAll applies nextPiece over the whole text.
func splitAll(text string) []string {
	var pieces []string
	for i := 0; i < len(text); {
		j := nextPiece(text, i)
		pieces = append(pieces, text[i:j])
		i = j
	}
	return pieces
}

// The expected pieces follow from the pattern's alternatives, tried in order
// with backtracking; each case exercises one branch of nextPiece.
func TestNextPieceFollowsLlama3Pattern(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{"words", "Hello world", []string{"Hello", " world"}},
		{"contractions any case", "I'M don't", []string{"I", "'M", " don", "'t"}},
		{"contraction wins over word", "'sa", []string{"'s", "a"}},
		{"two-letter contractions", "we're they'LL", []string{"we", "'re", " they", "'LL"}},
		{"long s folds to s", "Let'ſ", []string{"Let", "'ſ"}},
		{"apostrophe prefixes a word", "'x", []string{"'x"}},
		{"digits in threes", "12345", []string{"123", "45"}},
		{"space before digits stands alone", "a 123", []string{"a", " ", "123"}},
		{"punctuation with space and newlines", "a !?\n\nb", []string{"a", " !?\n\n", "b"}},
		{"symbol prefixes a word", "(which", []string{"(which"}},
		{"tab prefixes a word", "a\tb", []string{"a", "\tb"}},
		{"newline does not prefix a word", "a\nb", []string{"a", "\n", "b"}},
		{"whitespace up to last newline", "a  \n\n  b", []string{"a", "  \n\n", " ", " b"}},
		{"spaces leave one for the word", "   leading", []string{"  ", " leading"}},
		{"trailing spaces", "x   ", []string{"x", "   "}},
		{"single space before punctuation-less digit", " 1", []string{" ", "1"}},
		{"U+0085 is whitespace, not a punctuation prefix", " \u0085!", []string{" ", "\u0085", "!"}},
		{"U+FEFF is not whitespace", "\ufeff// c", []string{"\ufeff//", " c"}},
		{"no-break space prefixes a word", "a\u00a0b", []string{"a", "\u00a0b"}},
		{"Unicode 16 digit", "1\U0001CCF023", []string{"1\U0001CCF02", "3"}},
		{"carriage return line feed", "a\r\nb", []string{"a", "\r\n", "b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, splitAll(tc.text))
		})
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		r    rune
		want charClass
	}{
		{'a', classLetter}, {'Ж', classLetter}, {'中', classLetter}, {0x1E5D0, classLetter}, // Ol Onal, Unicode 16
		{'7', classNumber}, {'½', classNumber}, {0x1CCF0, classNumber}, {0x16130, classNumber},
		{' ', classSpace}, {'\t', classSpace}, {0x85, classSpace}, {0x3000, classSpace}, {0x2028, classSpace},
		{'\n', classNewline}, {'\r', classNewline},
		{'!', classOther}, {0xFEFF, classOther}, {0x200B, classOther}, {'😀', classOther},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, classify(tc.r), "U+%04X", tc.r)
	}
}
