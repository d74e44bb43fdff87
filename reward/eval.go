package reward

import (
	"fmt"
	"math"
)

// Bucket is the accuracy of the pairs whose margin falls in [Low, High).
type Bucket struct {
	Label    string  `json:"bucket"`
	Low      float64 `json:"-"`
	High     float64 `json:"-"`
	Pairs    int     `json:"pairs"`
	Accuracy float64 `json:"accuracy"`
}

// Metrics summarise a reward model on held-out preference pairs.
type Metrics struct {
	Pairs int `json:"pairs"`
	// Dropped counts pairs longer than max_length, left out as TRL does.
	Dropped int `json:"dropped"`
	// Accuracy is the fraction with r_chosen > r_rejected strictly: ties are wrong.
	Accuracy     float64 `json:"accuracy"`
	MeanMargin   float64 `json:"mean_margin"` // mean of r_chosen − r_rejected
	ChosenMean   float64 `json:"chosen_mean"`
	ChosenStd    float64 `json:"chosen_std"`
	RejectedMean float64 `json:"rejected_mean"`
	RejectedStd  float64 `json:"rejected_std"`
	// ByDataMargin buckets the pairs by the margin column of the data (pairs
	// without one are in bucket "none"); ByRewardGap by |r_chosen − r_rejected|,
	// which shows whether confident predictions are the right ones. Empty
	// buckets are left out.
	ByDataMargin []Bucket `json:"accuracy_by_margin"`
	ByRewardGap  []Bucket `json:"accuracy_by_reward_gap"`
}

// PairResult is one evaluated pair (a line of the per-example JSONL).
type PairResult struct {
	Index    int      `json:"index"`
	Chosen   float64  `json:"reward_chosen"`
	Rejected float64  `json:"reward_rejected"`
	Margin   *float64 `json:"margin,omitempty"`
	Correct  bool     `json:"correct"`
}

// Evaluation is the result of Evaluate.
type Evaluation struct {
	Metrics Metrics
	Pairs   []PairResult
}

// Bucket edges: data margins are usually small integers (annotator score
// gaps); reward gaps spread over a few logits.
var (
	dataMarginEdges = []float64{math.Inf(-1), 0, 1, 2, 4, math.Inf(1)}
	rewardGapEdges  = []float64{0, 0.5, 1, 2, 4, math.Inf(1)}
)

// Evaluate scores every pair (batchSize pairs per forward) and computes the
// metrics; dropped is the number of pairs the encoder left out for length.
func (rm *Model) Evaluate(pairs []Pair, batchSize, dropped int) (*Evaluation, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("reward: no pairs to evaluate (%d dropped for length)", dropped)
	}
	chosen, rejected, err := rm.PairRewards(pairs, batchSize)
	if err != nil {
		return nil, err
	}
	return summarise(pairs, chosen, rejected, dropped), nil
}

// summarise computes the metrics of scored pairs.
func summarise(pairs []Pair, chosen, rejected []float64, dropped int) *Evaluation {
	n := float64(len(pairs))
	ev := &Evaluation{Pairs: make([]PairResult, len(pairs))}
	m := &ev.Metrics
	m.Pairs, m.Dropped = len(pairs), dropped
	dataBuckets := newBuckets(dataMarginEdges)
	none := Bucket{Label: "none"}
	gapBuckets := newBuckets(rewardGapEdges)
	for i, p := range pairs {
		correct := chosen[i] > rejected[i]
		res := PairResult{Index: i, Chosen: chosen[i], Rejected: rejected[i], Correct: correct}
		if p.HasMargin {
			margin := p.Margin
			res.Margin = &margin
			add(dataBuckets, p.Margin, correct)
		} else {
			none.Pairs++
			if correct {
				none.Accuracy++
			}
		}
		add(gapBuckets, math.Abs(chosen[i]-rejected[i]), correct)
		ev.Pairs[i] = res
		if correct {
			m.Accuracy++
		}
		m.MeanMargin += chosen[i] - rejected[i]
	}
	m.Accuracy /= n
	m.MeanMargin /= n
	m.ChosenMean, m.ChosenStd = meanStd(chosen)
	m.RejectedMean, m.RejectedStd = meanStd(rejected)
	m.ByDataMargin = finish(append(dataBuckets, none))
	m.ByRewardGap = finish(gapBuckets)
	return ev
}

func newBuckets(edges []float64) []Bucket {
	out := make([]Bucket, len(edges)-1)
	for i := range out {
		out[i] = Bucket{Label: fmt.Sprintf("[%g, %g)", edges[i], edges[i+1]), Low: edges[i], High: edges[i+1]}
	}
	return out
}

// add counts one pair in the bucket holding v; Accuracy holds the count of
// correct pairs until finish divides it.
func add(buckets []Bucket, v float64, correct bool) {
	for i := range buckets {
		if v >= buckets[i].Low && v < buckets[i].High {
			buckets[i].Pairs++
			if correct {
				buckets[i].Accuracy++
			}
			return
		}
	}
}

// finish turns correct counts into accuracies and drops empty buckets.
func finish(buckets []Bucket) []Bucket {
	out := []Bucket{}
	for _, b := range buckets {
		if b.Pairs == 0 {
			continue
		}
		b.Accuracy /= float64(b.Pairs)
		out = append(out, b)
	}
	return out
}

// meanStd returns the mean and the population standard deviation.
func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}
