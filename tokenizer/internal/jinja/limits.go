package jinja

// posttrain: this file is not part of github.com/ardanlabs/jinja v1.8.0. The
// upstream engine renders without any bound, so a chat template from a
// downloaded tokenizer_config.json could loop for ever, recurse until the Go
// stack overflows (a fatal error no recover can catch) or build a string of
// many gigabytes (an out-of-memory fatal error). Neither a context nor a
// size-limited writer can be passed to the upstream Render, and a goroutine
// with a timeout would keep running and allocating after the caller gave up,
// so the engine is vendored here with one budget threaded through every
// evaluator of a render. See NOTICE for the list of changes.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLimit marks a template stopped by one of its render limits.
var ErrLimit = errors.New("jinja: template exceeded a limit")

// Limits bound one render. A zero field takes the default of DefaultLimits.
type Limits struct {
	// Timeout is the wall-clock time the render may take. It is checked every
	// 1024 steps, so it is exact to about a millisecond.
	Timeout time.Duration
	// MaxOutput bounds the rendered string and the string any block, macro or
	// {% set %} body renders into, in bytes.
	MaxOutput int
	// MaxAlloc bounds the bytes of strings and list slots built during the
	// render (concatenation, repetition, filters, function results, output),
	// garbage included: a template that doubles a string in a loop stops
	// here long before memory runs out.
	MaxAlloc int64
	// MaxSteps bounds nodes executed plus expressions evaluated: a loop over a
	// huge range, or a recursion that always terminates but exponentially late.
	MaxSteps int64
	// MaxDepth bounds nested macro and caller() calls (recursive macros).
	MaxDepth int
}

// DefaultLimits are far above what a chat template needs (Llama 3's renders a
// conversation in a few thousand steps and one output-sized string) and far
// below what harms the process: 5M steps are about a second of CPU (up to 2-4 s
// on a loaded 2-core machine), a few hundred MiB at most, and a stack of a
// few MiB.
var DefaultLimits = Limits{
	Timeout:   10 * time.Second,
	MaxOutput: 64 << 20,
	MaxAlloc:  512 << 20,
	MaxSteps:  5_000_000,
	MaxDepth:  64,
}

// Limits of the parser and of builtins that allocate from a number, applied
// in every render: they bound the Go stack (recursive descent) and single
// allocations before any budget is consulted.
const (
	// MaxSourceBytes bounds a template's source; real chat templates are a few KiB.
	MaxSourceBytes = 1 << 20
	maxExprTokens  = 4096
	maxBlockDepth  = 256
	maxRangeItems  = 1 << 20
	maxPad         = 1 << 10
	valueBytes     = 32 // charged per list slot: about unsafe.Sizeof(Value{})
)

// budget is shared by every evaluator of one render. A nil budget (from code
// paths that build an evaluator without one) imposes no limit.
type budget struct {
	lim      Limits
	ctx      context.Context
	deadline time.Time
	steps    int64
	alloc    int64
	depth    int
}

func newBudget(ctx context.Context, lim Limits) *budget {
	d := DefaultLimits
	if lim.Timeout > 0 {
		d.Timeout = lim.Timeout
	}
	if lim.MaxOutput > 0 {
		d.MaxOutput = lim.MaxOutput
	}
	if lim.MaxAlloc > 0 {
		d.MaxAlloc = lim.MaxAlloc
	}
	if lim.MaxSteps > 0 {
		d.MaxSteps = lim.MaxSteps
	}
	if lim.MaxDepth > 0 {
		d.MaxDepth = lim.MaxDepth
	}
	return &budget{lim: d, ctx: ctx, deadline: time.Now().Add(d.Timeout)}
}

// step counts one node or expression and checks time every 1024 steps.
func (b *budget) step() error {
	if b == nil {
		return nil
	}
	b.steps++
	if b.steps > b.lim.MaxSteps {
		return fmt.Errorf("%w: more than %d evaluation steps (a loop that does not end?)", ErrLimit, b.lim.MaxSteps)
	}
	if b.steps&1023 == 0 {
		if err := b.ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrLimit, err)
		}
		if time.Now().After(b.deadline) {
			return fmt.Errorf("%w: rendering took longer than %v", ErrLimit, b.lim.Timeout)
		}
	}
	return nil
}

// charge counts n bytes about to be allocated.
func (b *budget) charge(n int64, what string) error {
	if b == nil {
		return nil
	}
	if n < 0 || n > b.lim.MaxAlloc-b.alloc {
		return fmt.Errorf("%w: %s would bring the memory built while rendering past %d bytes", ErrLimit, what, b.lim.MaxAlloc)
	}
	b.alloc += n
	return nil
}

// output checks one write of n bytes to an output buffer holding have bytes.
func (b *budget) output(have, n int) error {
	if b == nil {
		return nil
	}
	if have+n > b.lim.MaxOutput {
		return fmt.Errorf("%w: output longer than %d bytes", ErrLimit, b.lim.MaxOutput)
	}
	return b.charge(int64(n), "the output")
}

// enter counts one nested macro or caller call.
func (b *budget) enter(name string) error {
	if b == nil {
		return nil
	}
	b.depth++
	if b.depth > b.lim.MaxDepth {
		b.depth--
		return fmt.Errorf("%w: macro %q calls nested more than %d deep (unbounded recursion?)", ErrLimit, name, b.lim.MaxDepth)
	}
	return nil
}

func (b *budget) leave() {
	if b != nil {
		b.depth--
	}
}

// chargeBinary charges, before it is built, the result of an operator that
// can grow: concatenation (~, + on strings or lists) and string repetition.
func (b *budget) chargeBinary(op string, left, right Value) error {
	if b == nil {
		return nil
	}
	switch op {
	case "~":
		return b.charge(printedSize(left)+printedSize(right), "'~'")
	case "+":
		if left.IsString() || right.IsString() {
			return b.charge(printedSize(left)+printedSize(right), "'+'")
		}
		if left.IsList() && right.IsList() {
			return b.charge(valueBytes*int64(left.AsList().Len()+right.AsList().Len()), "'+'")
		}
	case "*":
		if left.IsString() && right.IsInt() {
			n, s := right.AsInt(), int64(len(left.AsString()))
			if n > 0 && s > 0 && n > (b.lim.MaxAlloc+s-1)/s {
				return fmt.Errorf("%w: a string of %d bytes repeated %d times", ErrLimit, s, n)
			}
			return b.charge(max(n, 0)*s, "'*'")
		}
	}
	return nil
}

// chargeResult charges what a function or filter returned.
func (b *budget) chargeResult(v Value, err error) (Value, error) {
	if err != nil || b == nil {
		return v, err
	}
	switch {
	case v.IsString():
		err = b.charge(int64(len(v.AsString())), "a function result")
	case v.IsList():
		err = b.charge(valueBytes*int64(v.AsList().Len()), "a function result")
	}
	if err != nil {
		return Undefined(), err
	}
	return v, nil
}

// printedSize is the length of a string, or an estimate for other values
// (their printed form is short unless they are containers).
func printedSize(v Value) int64 {
	switch {
	case v.IsString():
		return int64(len(v.AsString()))
	case v.IsList():
		return valueBytes * int64(v.AsList().Len())
	case v.IsDict():
		return valueBytes * int64(v.AsDict().Len())
	}
	return 24
}

// rangeLen is the number of items range(start, stop, step) yields, step != 0.
func rangeLen(start, stop, step int64) uint64 {
	if step > 0 && start < stop {
		return (uint64(stop-start) + uint64(step) - 1) / uint64(step)
	}
	if step < 0 && start > stop {
		s := uint64(-step)
		return (uint64(start-stop) + s - 1) / s
	}
	return 0
}
