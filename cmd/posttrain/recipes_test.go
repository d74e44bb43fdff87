package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runRecipes(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs(append([]string{"recipes"}, args...))
	t.Cleanup(func() { rootCmd.SetArgs(nil); rootCmd.SetOut(nil); rootCmd.SetErr(nil) })
	err := rootCmd.Execute()
	return out.String(), err
}

func TestRecipesCommand(t *testing.T) {
	out, err := runRecipes(t)
	require.NoError(t, err)
	assert.Contains(t, out, "NAME")
	assert.Regexp(t, `(?m)^demo-dpo\s+dpo\s+\S`, out)
	assert.Contains(t, out, "posttrain run demo")
	assert.Regexp(t, `(?m)^sft-tiny\s+sft\s+\S`, out)

	out, err = runRecipes(t, "sft-tiny", "optim.lr=0.25")
	require.NoError(t, err)
	assert.Contains(t, out, "lr: 0.25")

	_, err = runRecipes(t, "sft-tiny", "optim.x=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown key "optim.x"`)
}
