package main

import (
	"encoding/json"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/spf13/cobra"
)

var chatTemplateFlags struct {
	dir                 string
	messages            string
	addGenerationPrompt bool
}

var chatTemplateCmd = &cobra.Command{
	Use:   "chat-template --tokenizer DIR --messages FILE.json [--add-generation-prompt]",
	Short: "Print a conversation rendered with the model's chat template",
	Long: `Render the messages in FILE.json (a JSON array of {"role", "content"}, or an object
with "messages") with the Jinja chat_template of DIR/tokenizer_config.json and print the
result exactly, without a trailing newline.`,
	Args: cobra.NoArgs,
	RunE: runChatTemplate,
}

func init() {
	f := chatTemplateCmd.Flags()
	f.StringVar(&chatTemplateFlags.dir, "tokenizer", "", "directory with tokenizer.json and tokenizer_config.json")
	f.StringVar(&chatTemplateFlags.messages, "messages", "", "JSON file with the conversation")
	f.BoolVar(&chatTemplateFlags.addGenerationPrompt, "add-generation-prompt", false, "end with the header of an assistant turn")
	_ = chatTemplateCmd.MarkFlagRequired("tokenizer")
	_ = chatTemplateCmd.MarkFlagRequired("messages")
	rootCmd.AddCommand(chatTemplateCmd)
}

func runChatTemplate(cmd *cobra.Command, _ []string) error {
	flags := chatTemplateFlags
	tok, err := tokenizer.Load(flags.dir)
	if err != nil {
		return err
	}
	messages, err := readMessages(flags.messages)
	if err != nil {
		return err
	}
	rendered, err := tok.ApplyChatTemplate(messages, flags.addGenerationPrompt)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), rendered)
	return err
}

// readMessages reads a JSON array of messages or an object with "messages".
func readMessages(path string) ([]tokenizer.Message, error) {
	if err := fileio.CheckRegular(path, maxBatchFileBytes); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) { // encoding/json would turn the bad bytes into U+FFFD silently
		return nil, fmt.Errorf("%s: invalid UTF-8 at byte %d; the file must be UTF-8 encoded", path, datasets.FirstInvalidUTF8(data))
	}
	var messages []tokenizer.Message
	if err := json.Unmarshal(data, &messages); err == nil {
		return messages, nil
	}
	var wrapped struct {
		Messages []tokenizer.Message `json:"messages"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil || wrapped.Messages == nil {
		return nil, fmt.Errorf(`%s: want a JSON array of {"role", "content"} or an object with "messages"`, path)
	}
	return wrapped.Messages, nil
}
