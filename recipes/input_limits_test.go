package recipes

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestYAMLSyntaxErrorsNameTheRightLine(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"sequence item in a mapping", "stage: sft\n- item\n", "r.yaml:2: did not find expected key"},
		{"unclosed flow list", "stage: sft\ndata: [a, b\n", "r.yaml:2: did not find expected ',' or ']'"},
		{"bad indentation (scanner error, already right)", "stage: sft\ntrain:\n  batch_size: 1\n   lr: 2\n", "r.yaml:4: mapping values"},
		{"tab", "stage: sft\ntrain:\n\tbatch_size: 1\n", "r.yaml:3: found character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "r.yaml")
			require.ErrorIs(t, err, ErrBadValue)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestInvalidUTF8InAKeyIsNamedWithLineAndColumn(t *testing.T) {
	_, err := Parse([]byte("stage: sft\nmodel:\n  pa\xffth: x\n"), "r.yaml")
	require.ErrorIs(t, err, ErrBadValue)
	assert.Contains(t, err.Error(), "r.yaml:3:5: invalid UTF-8")
}

func TestAbsurdSizesAreRefusedBeforeLoading(t *testing.T) {
	r := Default()
	r.Stage = "sft"
	r.Model.Path = "m"
	r.Data.Train = "d.jsonl"
	r.Data.MaxLength = 1 << 30
	r.Train.BatchSize = 1 << 30
	err := Validate(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "data.max_length must be <= 1048576")
	assert.Contains(t, err.Error(), "train.batch_size must be <= 65536")
}

func TestRecipeFIFOIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.yaml")
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	_, err := Load(p, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "named pipe")
	require.NoError(t, os.Remove(p))
}

func TestAbsurdGenerationSizesAreRefused(t *testing.T) {
	r := Default()
	r.Stage = StageGRPO
	r.GRPO.MaxCompletionLength = 1 << 30
	r.GRPO.RolloutWorkers = 1 << 20
	err := Validate(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "grpo.max_completion_length must be <= 1048576")
	assert.Contains(t, err.Error(), "grpo.rollout_workers must be <= 1024")

	r = Default()
	r.Stage = StagePPO
	r.PPO.ResponseLength = 1 << 30
	err = Validate(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ppo.response_length must be <= 1048576")
}
