package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Decode returns the text of ids: the concatenated bytes of their tokens, special
// tokens written as their literals, with no clean-up of spaces. Decoding the ids
// of a text gives the text back exactly. A sequence cut inside a multi-byte
// character yields those raw bytes, not U+FFFD; ids outside the vocabulary are
// skipped, as Hugging Face skips them.
func (t *Tokenizer) Decode(ids []int32) string {
	return string(t.appendBytes(make([]byte, 0, 4*len(ids)), ids...))
}

func (t *Tokenizer) appendBytes(dst []byte, ids ...int32) []byte {
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.tokenBytes) {
			dst = append(dst, t.tokenBytes[id]...)
		}
	}
	return dst
}

// StreamDecoder decodes ids one at a time during generation. A token may end
// inside a multi-byte character (emoji and CJK are often split over two or
// three byte tokens), so the decoder holds back an incomplete character until
// the token that completes it arrives. The concatenation of everything Push and
// Flush return equals Decode of all the ids pushed.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte // bytes not yet returned: at most an incomplete character
}

// NewStreamDecoder returns a decoder with nothing pending.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Push adds one id and returns the text that is complete so far (possibly "").
func (d *StreamDecoder) Push(id int32) string {
	d.pending = d.t.appendBytes(d.pending, id)
	n := completeUTF8Prefix(d.pending)
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out
}

// Flush returns whatever is still held back (the bytes of a character the
// sequence never completed) and empties the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}

// completeUTF8Prefix returns the length of b without a trailing incomplete
// (but so far valid) UTF-8 sequence. Bytes that can never become valid are not
// held back: waiting would not help them.
func completeUTF8Prefix(b []byte) int {
	for k := len(b) - 1; k >= 0 && k >= len(b)-utf8.UTFMax; k-- {
		if utf8.RuneStart(b[k]) {
			if !utf8.FullRune(b[k:]) {
				return k
			}
			return len(b)
		}
	}
	return len(b)
}

// ErrUnknownID marks a token id that names no token of the vocabulary.
var ErrUnknownID = errors.New("tokenizer: unknown token id")

// CheckIDs reports the first id that Decode would silently drop: negative,
// beyond the vocabulary, or in a gap of it.
func (t *Tokenizer) CheckIDs(ids []int32) error {
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.tokenBytes) || t.tokenBytes[id] == nil {
			return fmt.Errorf("%w: ids[%d] = %d is not in the vocabulary (ids 0..%d)", ErrUnknownID, i, id, len(t.tokenBytes)-1)
		}
	}
	return nil
}
