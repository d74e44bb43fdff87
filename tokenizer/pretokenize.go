package tokenizer

import "unicode/utf8"

// llama3SplitPattern is the pre-tokenizer regex of Llama 3's tokenizer.json.
// Go's regexp cannot express the look-ahead in `\s+(?!\S)`, so nextPiece below
// implements this pattern by hand; Load refuses any other pattern.
const llama3SplitPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// runeAt decodes the rune at byte offset i of s. At the end of s it returns
// size 0 and classEnd, so look-aheads need no bounds checks.
func runeAt(s string, i int) (r rune, cls charClass, size int) {
	if i >= len(s) {
		return 0, classEnd, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), asciiClass[c], 1
	}
	r, size = utf8.DecodeRuneInString(s[i:])
	return r, classify(r), size
}

// nextPiece returns the end of the pre-token that starts at byte i of s (i <
// len(s)). Every character belongs to some alternative of the pattern, so the
// pieces tile s. The alternatives are tried in the pattern's order, and each
// branch below reproduces what a backtracking regex engine returns for it:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)   contractions, case-insensitive
//	[^\r\n\p{L}\p{N}]?\p{L}+        a word with at most one leading non-letter
//	\p{N}{1,3}                      up to three digits
//	 ?[^\s\p{L}\p{N}]+[\r\n]*       punctuation with an optional leading space
//	\s*[\r\n]+                      whitespace up to the last newline of the run
//	\s+(?!\S)                       whitespace, leaving the last one for the next word
//	\s+                             a single whitespace character otherwise
func nextPiece(s string, i int) int {
	r0, c0, n0 := runeAt(s, i)
	if r0 == '\'' {
		if n := contractionLen(s, i+1); n > 0 {
			return i + 1 + n
		}
	}
	_, c1, n1 := runeAt(s, i+n0)
	switch c0 {
	case classLetter:
		return skipClass(s, i+n0, classLetter)
	case classNumber:
		j := i + n0
		for k := 1; k < 3; k++ {
			_, c, n := runeAt(s, j)
			if c != classNumber {
				break
			}
			j += n
		}
		return j
	case classOther:
		if c1 == classLetter {
			return skipClass(s, i+n0+n1, classLetter)
		}
		return skipNewlines(s, skipClass(s, i+n0, classOther))
	}
	// c0 is whitespace: classSpace or classNewline.
	if c0 == classSpace {
		if c1 == classLetter {
			return skipClass(s, i+n0+n1, classLetter)
		}
		if r0 == ' ' && c1 == classOther {
			return skipNewlines(s, skipClass(s, i+n0+n1, classOther))
		}
	}
	return whitespaceEnd(s, i, n0)
}

// whitespaceEnd handles the three whitespace alternatives for the run of
// whitespace starting at i, whose first rune is n0 bytes long.
func whitespaceEnd(s string, i, n0 int) int {
	lastNewline := -1
	lastRuneStart := i
	j := i
	for {
		_, c, n := runeAt(s, j)
		if c != classSpace && c != classNewline {
			break
		}
		if c == classNewline {
			lastNewline = j
		}
		lastRuneStart = j
		j += n
	}
	switch {
	case lastNewline >= 0: // \s*[\r\n]+ ends after the run's last newline
		return lastNewline + 1
	case j == len(s): // \s+(?!\S) takes the whole run at the end of the text
		return j
	case lastRuneStart > i: // \s+(?!\S) leaves the last space to the word after it
		return lastRuneStart
	}
	return i + n0 // \s+ of one character
}

// contractionLen returns the length of a contraction suffix (s, t, re, ve, m,
// ll, d in any case) at byte i of s, just after an apostrophe, or 0. The
// reference engine folds case the Unicode way, so the long s U+017F counts as
// an s; no other non-ASCII character folds to these letters.
func contractionLen(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	lower := func(c byte) byte { return c | 0x20 }
	switch lower(s[i]) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if i+1 < len(s) && lower(s[i+1]) == 'e' {
			return 2
		}
	case 'l':
		if i+1 < len(s) && lower(s[i+1]) == 'l' {
			return 2
		}
	case 0xC5 | 0x20: // U+017F LATIN SMALL LETTER LONG S is C5 BF in UTF-8
		if s[i] == 0xC5 && i+1 < len(s) && s[i+1] == 0xBF {
			return 2
		}
	}
	return 0
}

// skipClass returns the end of the run of characters of class cls from byte i.
func skipClass(s string, i int, cls charClass) int {
	for {
		_, c, n := runeAt(s, i)
		if c != cls {
			return i
		}
		i += n
	}
}

// skipNewlines returns the end of the run of \r and \n from byte i.
func skipNewlines(s string, i int) int {
	for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}
