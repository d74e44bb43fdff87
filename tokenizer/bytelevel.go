package tokenizer

// Byte-level BPE (GPT-2, Llama 3) stores every token as a string of printable
// characters: each byte b maps to one rune so that whitespace and control bytes
// never appear in vocab.json or merges. The tokenizer works on raw bytes
// internally, so this table is only used to read tokenizer.json.

// byteToRune maps each byte to the rune that stands for it in tokenizer.json.
var byteToRune = func() (t [256]rune) {
	next := rune(256)
	for b := range 256 {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// runeToByte is the inverse of byteToRune; -1 marks runes outside the alphabet.
// All byte-level runes are below 0x144, so an array beats a map here.
var runeToByte = func() (t [0x144]int16) {
	for i := range t {
		t[i] = -1
	}
	for b, r := range byteToRune {
		t[r] = int16(b)
	}
	return t
}()

// appendByteLevelDecoded appends the raw bytes of a token as written in
// tokenizer.json to dst. ok is false when the token holds a rune outside the
// byte-level alphabet.
func appendByteLevelDecoded(dst []byte, token string) (out []byte, ok bool) {
	for _, r := range token {
		if r >= rune(len(runeToByte)) || runeToByte[r] < 0 {
			return dst, false
		}
		dst = append(dst, byte(runeToByte[r]))
	}
	return dst, true
}
