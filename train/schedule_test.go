package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleMatchesTransformers(t *testing.T) {
	// Values worked by hand from the lr_lambda formulas in transformers/optimization.py.
	tests := []struct {
		name  string
		sched Schedule
		want  map[int]float64 // step -> lr
	}{
		{"constant with warmup", Schedule{Kind: ScheduleConstant, BaseLR: 1, WarmupSteps: 4, TotalSteps: 10},
			map[int]float64{0: 0, 1: 0.25, 3: 0.75, 4: 1, 9: 1, 50: 1}},
		{"constant no warmup", Schedule{Kind: ScheduleConstant, BaseLR: 3e-4},
			map[int]float64{0: 3e-4, 100: 3e-4}},
		{"linear", Schedule{Kind: ScheduleLinear, BaseLR: 2, WarmupSteps: 2, TotalSteps: 10},
			// after warmup: (10-step)/8
			map[int]float64{0: 0, 1: 1, 2: 2, 3: 2 * 7.0 / 8, 6: 2 * 0.5, 10: 0, 12: 0}},
		{"linear no warmup", Schedule{Kind: ScheduleLinear, BaseLR: 1, TotalSteps: 4},
			map[int]float64{0: 1, 1: 0.75, 3: 0.25, 4: 0}},
		{"cosine", Schedule{Kind: ScheduleCosine, BaseLR: 1, WarmupSteps: 2, TotalSteps: 10},
			// progress = (step-2)/8; 0.5(1+cos(pi*progress))
			map[int]float64{0: 0, 1: 0.5, 2: 1, 4: 0.8535533905932737, 6: 0.5, 8: 0.14644660940672627, 10: 0}},
		{"cosine min lr", Schedule{Kind: ScheduleCosine, BaseLR: 1, WarmupSteps: 0, TotalSteps: 8, MinLRRatio: 0.1},
			// 0.1 + 0.9 * 0.5(1+cos(pi*step/8))
			map[int]float64{0: 1, 2: 0.1 + 0.9*0.8535533905932737, 4: 0.55, 8: 0.1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for step, want := range tc.want {
				assert.InDelta(t, want, tc.sched.LR(step), 1e-12, "step %d", step)
			}
		})
	}
}

func TestNewScheduleRejectsBadArguments(t *testing.T) {
	_, err := NewSchedule("exp", 1, 0, 10, 0)
	require.ErrorContains(t, err, `"exp"`)
	_, err = NewSchedule(ScheduleCosine, 0, 0, 10, 0)
	require.ErrorContains(t, err, "lr must be > 0")
	_, err = NewSchedule(ScheduleCosine, 1, -1, 10, 0)
	require.ErrorContains(t, err, "warmup")
	_, err = NewSchedule(ScheduleCosine, 1, 0, 10, 2)
	require.ErrorContains(t, err, "min lr ratio")
	s, err := NewSchedule(ScheduleLinear, 0.5, 1, 3, 0)
	require.NoError(t, err)
	assert.Equal(t, 0.5*2.0/2, s.LR(1))
}
