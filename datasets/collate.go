package datasets

import "fmt"

// Batch is B rows of T tokens, right-padded, row-major ([B*T] each; row b is [b*T, (b+1)*T)).
type Batch struct {
	B, T        int
	IDs         []int32 // pad id at padding
	Labels      []int32 // IgnoreIndex at padding and at every document's first token
	PositionIDs []int32 // 0 at padding
	DocIDs      []int32 // -1, -2, ... at padding: each pad token is its own document, so it attends only to itself
	LossTokens  int     // labels that are not IgnoreIndex: the denominator of a token-mean loss
}

// Collate right-pads rows to T tokens (T 0: the longest row) with padID.
func Collate(rows []Sequence, T int, padID int32) (Batch, error) {
	if len(rows) == 0 {
		return Batch{}, fmt.Errorf("datasets: collating an empty batch")
	}
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(r.IDs))
	}
	if T == 0 {
		T = longest
	}
	if longest > T {
		return Batch{}, fmt.Errorf("datasets: a row of %d tokens does not fit a batch of length %d", longest, T)
	}
	B := len(rows)
	batch := Batch{B: B, T: T,
		IDs: make([]int32, B*T), Labels: make([]int32, B*T), PositionIDs: make([]int32, B*T), DocIDs: make([]int32, B*T)}
	for b, r := range rows {
		row := b * T
		copy(batch.IDs[row:], r.IDs)
		copy(batch.Labels[row:], r.Labels)
		copy(batch.PositionIDs[row:], r.PositionIDs)
		copy(batch.DocIDs[row:], r.DocIDs)
		for t := len(r.IDs); t < T; t++ {
			batch.IDs[row+t] = padID
			batch.Labels[row+t] = IgnoreIndex
			batch.DocIDs[row+t] = int32(len(r.IDs) - t - 1)
		}
		for _, l := range r.Labels {
			if l != IgnoreIndex {
				batch.LossTokens++
			}
		}
	}
	return batch, nil
}
