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

// runeToByte is the inverse of byteToRune.
var runeToByte = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteToRune {
		m[r] = byte(b)
	}
	return m
}()

// byteLevelDecode turns a token as written in tokenizer.json into its raw bytes.
// ok is false when the token holds a rune outside the byte-level alphabet.
func byteLevelDecode(token string, buf []byte) (raw []byte, ok bool) {
	raw = buf[:0]
	for _, r := range token {
		b, found := runeToByte[r]
		if !found {
			return nil, false
		}
		raw = append(raw, b)
	}
	return raw, true
}
