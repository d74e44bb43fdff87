package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/posttrain/posttrain/train"
)

// A resumed demo continues every stage that has a checkpoint and reruns the
// others; without --resume the flags pass through unchanged, so a second demo
// into the same directory is refused unless --overwrite is given.
func TestStageLifecycle(t *testing.T) {
	assert.Equal(t, train.Lifecycle{}, Options{}.stage())
	assert.Equal(t, train.Lifecycle{Overwrite: true}, Options{Lifecycle: train.Lifecycle{Overwrite: true}}.stage())
	assert.Equal(t, train.Lifecycle{Resume: train.ResumeAuto, Overwrite: true, AllowRecipeChange: true},
		Options{Lifecycle: train.Lifecycle{Resume: train.ResumeLatest, AllowRecipeChange: true}}.stage())
}
