package tokenizer

import "unicode"

// Character classes of the Llama 3 split pattern. The reference (Hugging Face
// `tokenizers`, Rust) classifies with Unicode 16 tables and with the Unicode
// White_Space property for `\s`, which counts U+0085 and not U+FEFF.
type charClass uint8

const (
	classOther   charClass = iota // neither \s, \p{L} nor \p{N}
	classLetter                   // \p{L}
	classNumber                   // \p{N}
	classSpace                    // \s other than \r and \n
	classNewline                  // \r or \n (also \s)
	classEnd                      // past the end of the text
)

// asciiClass holds the class of every ASCII byte so the common case needs no
// table search.
var asciiClass = func() (t [128]charClass) {
	for c := range rune(128) {
		t[c] = classifySlow(c)
	}
	return t
}()

// classify returns the class of r for the pre-tokenizer.
func classify(r rune) charClass {
	if r < 128 {
		return asciiClass[r]
	}
	return classifySlow(r)
}

func classifySlow(r rune) charClass {
	switch {
	case r == '\r' || r == '\n':
		return classNewline
	case unicode.Is(unicode.White_Space, r):
		return classSpace
	case unicode.IsLetter(r) || unicode.Is(unicode16Letters, r):
		return classLetter
	case unicode.IsNumber(r) || unicode.Is(unicode16Numbers, r):
		return classNumber
	}
	return classOther
}

// unicode16Letters and unicode16Numbers are the code points that are \p{L} or
// \p{N} in Unicode 15.1 and 16.0 but unassigned in Go's unicode package
// (Unicode 15.0). They were listed by comparing Go's tables with ICU's and keeping
// the ranges added in 15.1 (CJK Extension I) and 16.0 (Garay, Gurung Khema, Kirat
// Rai, Ol Onal, Sunuwar, Todhri, Tulu-Tigalari, Egyptian Hieroglyphs Extended-A,
// Myanmar Extended-C, the outlined digits of Symbols for Legacy Computing
// Supplement, and a few Latin, Cyrillic and Arabic letters). Drop them when Go's
// unicode package reaches Unicode 16.
var unicode16Letters = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x1c89, Hi: 0x1c8a, Stride: 1},
		{Lo: 0xa7cb, Hi: 0xa7cd, Stride: 1},
		{Lo: 0xa7da, Hi: 0xa7dc, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x105c0, Hi: 0x105f3, Stride: 1},
		{Lo: 0x10d4a, Hi: 0x10d65, Stride: 1},
		{Lo: 0x10d6f, Hi: 0x10d85, Stride: 1},
		{Lo: 0x10ec2, Hi: 0x10ec4, Stride: 1},
		{Lo: 0x11380, Hi: 0x11389, Stride: 1},
		{Lo: 0x1138b, Hi: 0x1138e, Stride: 3},
		{Lo: 0x11390, Hi: 0x113b5, Stride: 1},
		{Lo: 0x113b7, Hi: 0x113b7, Stride: 1},
		{Lo: 0x113d1, Hi: 0x113d3, Stride: 2},
		{Lo: 0x11bc0, Hi: 0x11be0, Stride: 1},
		{Lo: 0x13460, Hi: 0x143fa, Stride: 1},
		{Lo: 0x16100, Hi: 0x1611d, Stride: 1},
		{Lo: 0x16d40, Hi: 0x16d6c, Stride: 1},
		{Lo: 0x18cff, Hi: 0x18cff, Stride: 1},
		{Lo: 0x1e5d0, Hi: 0x1e5ed, Stride: 1},
		{Lo: 0x1e5f0, Hi: 0x1e5f0, Stride: 1},
		{Lo: 0x2ebf0, Hi: 0x2ee5d, Stride: 1},
	},
}

var unicode16Numbers = &unicode.RangeTable{
	R32: []unicode.Range32{
		{Lo: 0x10d40, Hi: 0x10d49, Stride: 1},
		{Lo: 0x116d0, Hi: 0x116e3, Stride: 1},
		{Lo: 0x11bf0, Hi: 0x11bf9, Stride: 1},
		{Lo: 0x16130, Hi: 0x16139, Stride: 1},
		{Lo: 0x16d70, Hi: 0x16d79, Stride: 1},
		{Lo: 0x1ccf0, Hi: 0x1ccf9, Stride: 1},
		{Lo: 0x1e5f1, Hi: 0x1e5fa, Stride: 1},
	},
}
