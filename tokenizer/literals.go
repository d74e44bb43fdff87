package tokenizer

// literalTrie finds added-token literals in text, leftmost first and longest at
// that position, as Hugging Face's added-token matcher does.
type literalTrie struct {
	root      trieNode
	firstByte [256]bool // bytes that can start a literal, to skip plain text fast
}

type trieNode struct {
	children map[byte]*trieNode
	id       int32 // -1 if no literal ends here
}

func newLiteralTrie() *literalTrie {
	return &literalTrie{root: trieNode{id: -1}}
}

func (t *literalTrie) add(literal string, id int32) {
	if literal == "" {
		return
	}
	t.firstByte[literal[0]] = true
	n := &t.root
	for i := 0; i < len(literal); i++ {
		if n.children == nil {
			n.children = make(map[byte]*trieNode)
		}
		child, ok := n.children[literal[i]]
		if !ok {
			child = &trieNode{id: -1}
			n.children[literal[i]] = child
		}
		n = child
	}
	n.id = id
}

// find returns the first literal in text at or after byte from: its span and id.
// ok is false if there is none.
func (t *literalTrie) find(text string, from int) (start, end int, id int32, ok bool) {
	for i := from; i < len(text); i++ {
		if !t.firstByte[text[i]] {
			continue
		}
		n, best, bestEnd := &t.root, int32(-1), 0
		for j := i; j < len(text); j++ {
			child, found := n.children[text[j]]
			if !found {
				break
			}
			n = child
			if n.id >= 0 {
				best, bestEnd = n.id, j+1
			}
		}
		if best >= 0 {
			return i, bestEnd, best, true
		}
	}
	return 0, 0, 0, false
}
