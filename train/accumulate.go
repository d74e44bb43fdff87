package train

// LossTokens counts the positions that carry a loss: labels other than IgnoreIndex.
// labels is [B, T] flattened, or any shape.
func LossTokens(labels []int32) int {
	n := 0
	for _, l := range labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// IgnoreIndex marks a label position without loss (prompt, padding), as in PyTorch.
const IgnoreIndex = -100

// Accumulation normalises a step's loss over gradient-accumulation micro-batches by the
// total number of loss tokens of the whole step, so a step over micro-batches of 3 and 300
// tokens gives the same gradient as one batch of 303 (not the mean of two per-batch means).
//
// Usage: count the loss tokens of all micro-batches first, then for each micro-batch compute
// the *summed* token loss, backpropagate it scaled by Scale(), and Add it:
//
//	acc := train.NewAccumulation(totalTokens)
//	for _, mb := range micro { sum := forward(mb); backward(acc.Scale()); acc.Add(sum, mb.tokens) }
//	loss := acc.Loss()
type Accumulation struct {
	totalTokens int
	lossSum     float64
	seenTokens  int
}

// NewAccumulation starts a step whose micro-batches hold totalTokens loss tokens together.
func NewAccumulation(totalTokens int) *Accumulation {
	return &Accumulation{totalTokens: totalTokens}
}

// Scale is the factor for each micro-batch's summed loss (and so for its gradient): 1/N for
// N loss tokens in the step, 0 when the step has none (so a fully masked step is a no-op).
func (a *Accumulation) Scale() float64 {
	if a.totalTokens == 0 {
		return 0
	}
	return 1 / float64(a.totalTokens)
}

// Add records one micro-batch's summed loss and its loss-token count.
func (a *Accumulation) Add(lossSum float64, tokens int) {
	a.lossSum += lossSum
	a.seenTokens += tokens
}

// Loss is the mean loss per token over the step so far.
func (a *Accumulation) Loss() float64 {
	return a.lossSum * a.Scale()
}

// Tokens returns the loss tokens added so far; after the last micro-batch it equals the total
// given to NewAccumulation, a cheap check that the counting pass and the loss agree.
func (a *Accumulation) Tokens() int { return a.seenTokens }

// Every reports whether an event with interval n (logging, eval, save) falls on step;
// n <= 0 disables it.
func Every(step, n int) bool {
	return n > 0 && step > 0 && step%n == 0
}

// StepsPerEpoch is the number of optimizer steps in one pass over numExamples: micro-batches
// of batchSize (the last may be short), grouped by gradAccum (the last group may be short),
// as transformers' Trainer counts them.
func StepsPerEpoch(numExamples, batchSize, gradAccum int) int {
	if numExamples <= 0 || batchSize <= 0 || gradAccum <= 0 {
		return 0
	}
	microBatches := (numExamples + batchSize - 1) / batchSize
	return (microBatches + gradAccum - 1) / gradAccum
}

// TotalSteps is the run length: maxSteps when > 0, else epochs × StepsPerEpoch.
func TotalSteps(numExamples, batchSize, gradAccum, epochs, maxSteps int) int {
	if maxSteps > 0 {
		return maxSteps
	}
	return max(0, epochs) * StepsPerEpoch(numExamples, batchSize, gradAccum)
}
