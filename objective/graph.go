package objective

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// exprGraph builds one loss as a gorgonia float64 expression graph over
// vectors of N per-sequence or per-token statistics, then evaluates the loss
// and its symbolic gradient with respect to the inputs declared with param.
//
// Every builder method carries the first error forward (and returns nil
// nodes after it), so a loss reads as a formula and is checked once, in
// evaluate. Only elementwise ops, Sum/Mean reductions, Abs, Exp, Log1p,
// Sigmoid and Min/MaxBetween are used: the gradients of InverseSqrt and of
// ByIndices on the last axis are wrong in gorgonia v0.9.18.
//
// A graph is built, compiled and run per call: about 1 ms for up to 256
// pairs and 1–3.5 ms for PPO over 2k–16k tokens on 2 CPU cores (see
// BenchmarkObjectives), small next to a model step, so no compiled-graph
// cache is kept.
type exprGraph struct {
	g      *G.ExprGraph
	err    error
	params []*G.Node // differentiable inputs, each [N]
	names  []string  // key of each param in Result.Grads

	constants int // vector constants declared so far, for unique node names
}

func newExprGraph() *exprGraph { return &exprGraph{g: G.NewGraph()} }

func vectorValue(x []float64) *tensor.Dense {
	backing := append([]float64(nil), x...) // the graph must not alias the caller's slice
	return tensor.New(tensor.WithShape(len(backing)), tensor.WithBacking(backing))
}

// param declares a differentiable input vector [N]; its gradient is returned
// under name.
func (e *exprGraph) param(name string, x []float64) *G.Node {
	if e.err != nil {
		return nil
	}
	n := G.NewVector(e.g, tensor.Float64, G.WithShape(len(x)), G.WithName(name), G.WithValue(vectorValue(x)))
	e.params = append(e.params, n)
	e.names = append(e.names, name)
	return n
}

// constant declares a vector [N] that is not differentiated (reference
// log-probs, advantages, masks, clip bounds). It is an input node, not a
// gorgonia constant: gorgonia hashes and names a tensor constant by printing
// its values, which made a call over 16k tokens 7× slower.
func (e *exprGraph) constant(x []float64) *G.Node {
	if e.err != nil {
		return nil
	}
	e.constants++
	name := fmt.Sprintf("const%d", e.constants)
	return G.NewVector(e.g, tensor.Float64, G.WithShape(len(x)), G.WithName(name), G.WithValue(vectorValue(x)))
}

// scalar is a float64 constant broadcast against vectors.
func (e *exprGraph) scalar(v float64) *G.Node {
	if e.err != nil {
		return nil
	}
	return G.NewConstant(v)
}

func (e *exprGraph) unary(op string, f func(*G.Node) (*G.Node, error), a *G.Node) *G.Node {
	if e.err != nil {
		return nil
	}
	out, err := f(a)
	if err != nil {
		e.err = fmt.Errorf("objective: building %s: %w", op, err)
	}
	return out
}

func (e *exprGraph) binary(op string, f func(a, b *G.Node) (*G.Node, error), a, b *G.Node) *G.Node {
	if e.err != nil {
		return nil
	}
	out, err := f(a, b)
	if err != nil {
		e.err = fmt.Errorf("objective: building %s: %w", op, err)
	}
	return out
}

func (e *exprGraph) add(a, b *G.Node) *G.Node { return e.binary("add", G.Add, a, b) }
func (e *exprGraph) sub(a, b *G.Node) *G.Node { return e.binary("sub", G.Sub, a, b) }

// mul is the elementwise product; either side may be a scalar.
func (e *exprGraph) mul(a, b *G.Node) *G.Node   { return e.binary("mul", G.HadamardProd, a, b) }
func (e *exprGraph) maxOf(a, b *G.Node) *G.Node { return e.binary("max", G.MaxBetween, a, b) }
func (e *exprGraph) minOf(a, b *G.Node) *G.Node { return e.binary("min", G.MinBetween, a, b) }
func (e *exprGraph) neg(a *G.Node) *G.Node      { return e.unary("neg", G.Neg, a) }
func (e *exprGraph) exp(a *G.Node) *G.Node      { return e.unary("exp", G.Exp, a) }
func (e *exprGraph) abs(a *G.Node) *G.Node      { return e.unary("abs", G.Abs, a) }
func (e *exprGraph) square(a *G.Node) *G.Node   { return e.unary("square", G.Square, a) }
func (e *exprGraph) sum(a *G.Node) *G.Node {
	return e.unary("sum", func(x *G.Node) (*G.Node, error) { return G.Sum(x) }, a)
}
func (e *exprGraph) mean(a *G.Node) *G.Node {
	return e.unary("mean", func(x *G.Node) (*G.Node, error) { return G.Mean(x) }, a)
}

// scale multiplies by a host constant.
func (e *exprGraph) scale(a *G.Node, c float64) *G.Node { return e.mul(a, e.scalar(c)) }

// relu(x) = (x + |x|)/2; its derivative is 1, 0 and ½ at the kink.
func (e *exprGraph) relu(x *G.Node) *G.Node { return e.scale(e.add(x, e.abs(x)), 0.5) }

// softplus(x) = log(1 + eˣ) = relu(x) + log1p(e^−|x|): exact for every x,
// with derivative σ(x) (gorgonia's own Softplus returns x above 16, an
// absolute error up to 1e-7).
func (e *exprGraph) softplus(x *G.Node) *G.Node {
	tail := e.unary("log1p", G.Log1p, e.exp(e.neg(e.abs(x))))
	return e.add(e.relu(x), tail)
}

// logSigmoid(x) = log σ(x) = −softplus(−x), stable for large |x| like
// torch.nn.functional.logsigmoid.
func (e *exprGraph) logSigmoid(x *G.Node) *G.Node { return e.neg(e.softplus(e.neg(x))) }

// clamp(x, lo, hi) elementwise with lo, hi vectors of x's shape; the
// derivative is 1 inside [lo, hi] (boundaries included, like torch.clamp)
// and 0 outside.
func (e *exprGraph) clamp(x, lo, hi *G.Node) *G.Node { return e.minOf(e.maxOf(x, lo), hi) }

// maskedMean(x, m) = Σ x·m / Σ m with m a constant vector whose host sum is
// mSum (> 0, checked by the caller).
func (e *exprGraph) maskedMean(x, m *G.Node, mSum float64) *G.Node {
	return e.scale(e.sum(e.mul(x, m)), 1/mSum)
}

// evaluate runs the graph and returns the scalar loss and d loss / d param
// for every param, keyed by its name. The returned slices are fresh copies.
func (e *exprGraph) evaluate(loss *G.Node) (float64, map[string][]float64, error) {
	if e.err != nil {
		return 0, nil, e.err
	}
	gradNodes, err := G.Grad(loss, e.params...)
	if err != nil {
		return 0, nil, fmt.Errorf("objective: symbolic gradient: %w", err)
	}
	vm := G.NewTapeMachine(e.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return 0, nil, fmt.Errorf("objective: running loss graph: %w", err)
	}
	lossValue, ok := loss.Value().Data().(float64)
	if !ok {
		return 0, nil, fmt.Errorf("objective: loss is %v, want a float64 scalar", loss.Value())
	}
	grads := make(map[string][]float64, len(gradNodes))
	for i, gn := range gradNodes {
		g := vectorData(gn.Value())
		if len(g) != e.params[i].Shape().TotalSize() {
			return 0, nil, fmt.Errorf("objective: gradient of %q is %v, want %d values", e.names[i], gn.Value(), e.params[i].Shape().TotalSize())
		}
		grads[e.names[i]] = g
	}
	return lossValue, grads, nil
}

// vectorData copies a gradient value out of the graph. A length-1 vector's
// gradient may come back as a scalar; both are returned as a []float64.
func vectorData(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...)
	case float64:
		return []float64{d}
	default:
		return nil
	}
}
