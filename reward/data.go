package reward

import (
	"fmt"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/tasks"
	"github.com/posttrain/posttrain/tokenizer"
)

// LoadRows reads a data set for evaluation or scoring: a .jsonl/.parquet path,
// or builtin:NAME, whose held-out ("eval") split is used.
func LoadRows(path string, format datasets.Format, seed uint64) ([]datasets.Row, error) {
	if tasks.IsBuiltin(path) {
		return tasks.BuiltinRows(path, "eval", seed)
	}
	rows, _, err := datasets.Load(path, datasets.LoadOptions{Format: format})
	return rows, err
}

// EncodeEvalPairs tokenizes preference rows for Evaluate; pairs longer than
// maxLength (0: no limit) are dropped and counted, as in training.
func EncodeEvalPairs(rows []datasets.Row, tok *tokenizer.Tokenizer, maxLength int) (pairs []Pair, dropped int, err error) {
	ex, rep, err := datasets.EncodePreference(rows, tok, datasets.PreferenceOptions{MaxLength: maxLength})
	if err != nil {
		return nil, 0, err
	}
	return PairsFrom(ex), rep.Dropped, nil
}

// ScoredRow is one row's rewards: Reward for a text, prompt+completion or
// messages row; Chosen and Rejected for a preference row.
type ScoredRow struct {
	Index    int      `json:"index"`
	Where    string   `json:"where,omitempty"`
	Reward   *float64 `json:"reward,omitempty"`
	Chosen   *float64 `json:"reward_chosen,omitempty"`
	Rejected *float64 `json:"reward_rejected,omitempty"`
}

// ScoreRows scores every row: the whole conversation or prompt+completion
// (rendered with the chat template when conversational), or both sides of a
// preference pair. Rows are never truncated: the reward is read at the last
// token, which truncation would cut.
func (rm *Model) ScoreRows(rows []datasets.Row, tok *tokenizer.Tokenizer, batchSize int) ([]ScoredRow, error) {
	var seqs [][]int32
	owner := make([]int, 0, len(rows)) // row index of each sequence
	for i, row := range rows {
		if row.Format == datasets.FormatPreference {
			ex, _, err := datasets.EncodePreference([]datasets.Row{row}, tok, datasets.PreferenceOptions{})
			if err != nil {
				return nil, err
			}
			p := PairsFrom(ex)[0]
			seqs = append(seqs, p.Chosen, p.Rejected)
			owner = append(owner, i, i)
			continue
		}
		ex, _, err := datasets.EncodeSFT([]datasets.Row{row}, tok, datasets.SFTOptions{LossOn: datasets.LossOnAll})
		if err != nil {
			return nil, err
		}
		if len(ex) != 1 {
			return nil, fmt.Errorf("%s: row did not encode to one sequence", row.Where)
		}
		seqs = append(seqs, ex[0].IDs)
		owner = append(owner, i)
	}
	rewards, err := rm.ScoreSequences(seqs, batchSize)
	if err != nil {
		return nil, err
	}
	out := make([]ScoredRow, len(rows))
	for i, row := range rows {
		out[i] = ScoredRow{Index: i, Where: row.Where}
	}
	for k := 0; k < len(seqs); k++ {
		i, r := owner[k], rewards[k]
		if rows[i].Format != datasets.FormatPreference {
			out[i].Reward = &r
			continue
		}
		rj := rewards[k+1]
		out[i].Chosen, out[i].Rejected = &r, &rj
		k++
	}
	return out, nil
}
