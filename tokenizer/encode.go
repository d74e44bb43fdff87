package tokenizer

import (
	"slices"
	"unicode/utf8"
)

// Encode returns the token ids of text. With opts.Special, literals of added
// tokens such as "<|eot_id|>" become their ids; without it they are encoded as
// ordinary text (added tokens not marked special are matched in both modes, as
// Hugging Face does). With opts.BOS the begin-of-text id comes first.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) []int32 {
	ids, _ := t.encode(text, opts, false)
	return ids
}

// EncodeWithOffsets is Encode that also returns, for each id, the byte span
// [start, end) of text it came from. A special token spans its literal; the BOS
// spans [0, 0); a BPE token that covers only part of a multi-byte character gets
// that whole character's span, so neighbouring spans may overlap there.
func (t *Tokenizer) EncodeWithOffsets(text string, opts EncodeOptions) (ids []int32, offsets [][2]int) {
	return t.encode(text, opts, true)
}

func (t *Tokenizer) encode(text string, opts EncodeOptions, withOffsets bool) ([]int32, [][2]int) {
	// English averages about four bytes a token; this avoids most regrowth.
	ids := make([]int32, 0, len(text)/4+2)
	var offsets [][2]int
	if withOffsets {
		offsets = make([][2]int, 0, cap(ids))
	}
	if opts.BOS && t.bos >= 0 {
		ids = append(ids, t.bos)
		if withOffsets {
			offsets = append(offsets, [2]int{0, 0})
		}
	}
	literals := t.textTrie
	if opts.Special {
		literals = t.specialTrie
	}
	for pos := 0; pos < len(text); {
		plainEnd, litEnd, litID, found := len(text), 0, int32(0), false
		if literals != nil {
			plainEnd, litEnd, litID, found = literals.find(text, pos)
			if !found {
				plainEnd = len(text)
			}
		}
		ids, offsets = t.encodePlain(text, pos, plainEnd, ids, offsets, withOffsets)
		if !found {
			break
		}
		ids = append(ids, litID)
		if withOffsets {
			offsets = append(offsets, [2]int{plainEnd, litEnd})
		}
		pos = litEnd
	}
	return ids, offsets
}

// encodePlain appends the ids of text[start:end], which holds no added-token
// literal: pre-tokenize with the Llama 3 pattern, then BPE each piece. The
// segment is split on its own, so no look-ahead crosses into a special token.
func (t *Tokenizer) encodePlain(text string, start, end int, ids []int32, offsets [][2]int, withOffsets bool) ([]int32, [][2]int) {
	segment := text[start:end]
	for i := 0; i < len(segment); {
		j := nextPiece(segment, i)
		piece := segment[i:j]
		first := len(ids)
		ids = t.encodePiece(piece, ids)
		if withOffsets {
			offsets = appendPieceOffsets(offsets, segment, start, i, j, t.tokenBytes, ids[first:])
		}
		i = j
	}
	return ids, offsets
}

// encodePiece appends the BPE ids of one pre-token.
func (t *Tokenizer) encodePiece(piece string, ids []int32) []int32 {
	if t.ignoreMerges || len(piece) == 1 {
		if id, ok := t.vocab[piece]; ok {
			return append(ids, id)
		}
	}
	if cached, ok := t.cache.get(piece); ok {
		return append(ids, cached...)
	}
	first := len(ids)
	ids = t.bpe(piece, ids)
	t.cache.put(piece, slices.Clone(ids[first:]))
	return ids
}

// appendPieceOffsets appends the spans of pieceIDs, the tokens of
// segment[pieceStart:pieceEnd]; base is the segment's offset in the text.
// Tokens are consecutive byte ranges of the piece; a span is widened to whole
// characters so that it can always be sliced out of the text as valid UTF-8.
func appendPieceOffsets(offsets [][2]int, segment string, base, pieceStart, pieceEnd int, tokenBytes [][]byte, pieceIDs []int32) [][2]int {
	pos := pieceStart
	for _, id := range pieceIDs {
		s, e := pos, pos+len(tokenBytes[id])
		pos = e
		for s > pieceStart && !utf8.RuneStart(segment[s]) {
			s--
		}
		for e < pieceEnd && !utf8.RuneStart(segment[e]) {
			e++
		}
		offsets = append(offsets, [2]int{base + s, base + e})
	}
	return offsets
}
