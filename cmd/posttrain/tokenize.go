package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/spf13/cobra"
)

var tokenizeFlags struct {
	dir     string
	special bool
	bos     bool
	text    string
	jsonl   string
	decode  bool
}

var tokenizeCmd = &cobra.Command{
	Use:   "tokenize --tokenizer DIR [--special] [--bos] (--text TEXT | --jsonl FILE)",
	Short: "Print the token ids of texts, one JSON array a line (or decode arrays with --decode)",
	Long: `Encode each input with the tokenizer in DIR (tokenizer.json and tokenizer_config.json)
and print its ids as one JSON array per line. Inputs are --text, or the "text" field of
each line of --jsonl FILE ("-" reads standard input).

--special turns special-token literals such as <|eot_id|> into their ids (leave it off
for user content); --bos puts the begin-of-text id first.

--decode reverses it: --text is a JSON array of ids, and each --jsonl line an array
(or an object with "ids"); each is printed as a JSON string.`,
	Args: cobra.NoArgs,
	RunE: runTokenize,
}

func init() {
	f := tokenizeCmd.Flags()
	f.StringVar(&tokenizeFlags.dir, "tokenizer", "", "directory with tokenizer.json and tokenizer_config.json")
	f.BoolVar(&tokenizeFlags.special, "special", false, "parse special-token literals into their ids")
	f.BoolVar(&tokenizeFlags.bos, "bos", false, "put the begin-of-text id first")
	f.StringVar(&tokenizeFlags.text, "text", "", "the text to encode (with --decode: a JSON array of ids)")
	f.StringVar(&tokenizeFlags.jsonl, "jsonl", "", `JSONL file whose lines have "text" ("-" for standard input)`)
	f.BoolVar(&tokenizeFlags.decode, "decode", false, "decode JSON arrays of ids into JSON strings")
	_ = tokenizeCmd.MarkFlagRequired("tokenizer")
	tokenizeCmd.MarkFlagsOneRequired("text", "jsonl")
	tokenizeCmd.MarkFlagsMutuallyExclusive("text", "jsonl")
	rootCmd.AddCommand(tokenizeCmd)
}

func runTokenize(cmd *cobra.Command, _ []string) error {
	flags := tokenizeFlags
	tok, err := tokenizer.Load(flags.dir)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false) // keep <|eot_id|> readable
	opts := tokenizer.EncodeOptions{Special: flags.special, BOS: flags.bos}

	handle := func(line []byte, where string) error {
		if flags.decode {
			ids, err := decodeIDArray(line)
			if err == nil {
				err = tok.CheckIDs(ids) // Decode would drop them silently
			}
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return enc.Encode(tok.Decode(ids))
		}
		return enc.Encode(tok.Encode(string(line), opts))
	}

	if cmd.Flags().Changed("text") {
		if err := handle([]byte(flags.text), "--text"); err != nil {
			return err
		}
		return out.Flush()
	}
	in, name, err := openInput(cmd, flags.jsonl)
	if err != nil {
		return err
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), datasets.MaxLineBytes)
	lineNo := 1
	for ; sc.Scan(); lineNo++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, lineNo)
		if !flags.decode {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(line, &rec); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if rec.Text == nil {
				return fmt.Errorf(`%s: field "text" is missing`, where)
			}
			line = []byte(*rec.Text)
		}
		if err := handle(line, where); err != nil {
			return err
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("%s:%d: the line is longer than %d bytes, the most a line may have (as in training data)",
			name, lineNo, datasets.MaxLineBytes)
	} else if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Flush()
}

// decodeIDArray reads a JSON array of ids, or an object with an "ids" array.
func decodeIDArray(data []byte) ([]int32, error) {
	var ids []int32
	if err := json.Unmarshal(data, &ids); err == nil {
		return ids, nil
	}
	var rec struct {
		IDs []int32 `json:"ids"`
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.IDs == nil {
		return nil, errors.New(`want a JSON array of ids or an object with "ids"`)
	}
	return rec.IDs, nil
}

// openInput opens path, or standard input for "-".
func openInput(cmd *cobra.Command, path string) (io.ReadCloser, string, error) {
	if path == "-" {
		return io.NopCloser(cmd.InOrStdin()), "stdin", nil
	}
	if err := fileio.CheckRegular(path, 0); err != nil { // a FIFO would block the open
		return nil, path, fmt.Errorf("%w (to stream, pass \"-\" and pipe into standard input)", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, path, err
	}
	return f, path, nil
}
