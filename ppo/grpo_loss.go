package ppo

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// klLoss is GRPO's reference penalty, β · masked mean of TRL's per-token k3
// estimate e^(ref−logp) − (ref−logp) − 1, as a gorgonia expression
// differentiated with respect to logp (like the objective package's losses).
// logp, refLogp, mask [N]. It returns the loss and d loss / d logp [N].
func klLoss(logp, refLogp, mask []float64, beta float64) (float64, []float64, error) {
	n := len(logp)
	if n == 0 || len(refLogp) != n || len(mask) != n {
		return 0, nil, fmt.Errorf("klLoss: logp %d, refLogp %d, mask %d values; want equal, non-zero lengths", n, len(refLogp), len(mask))
	}
	var tokens float64
	for _, m := range mask {
		tokens += m
	}
	if tokens <= 0 {
		return 0, nil, fmt.Errorf("klLoss: mask selects no token")
	}
	g := G.NewGraph()
	vec := func(name string, x []float64) *G.Node {
		backing := append([]float64(nil), x...)
		return G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(backing))))
	}
	lp, ref, m := vec("logp", logp), vec("ref", refLogp), vec("mask", mask)
	// The −1 of k3 is added on the host: its masked mean is exactly 1.
	d := G.Must(G.Sub(ref, lp))                          // ref − logp   [N]
	k := G.Must(G.Sub(G.Must(G.Exp(d)), d))              // e^d − d      [N]
	total := G.Must(G.Sum(G.Must(G.HadamardProd(k, m)))) // Σ mask·(e^d − d)
	loss := G.Must(G.HadamardProd(total, G.NewConstant(beta/tokens)))
	grads, err := G.Grad(loss, lp)
	if err != nil {
		return 0, nil, fmt.Errorf("klLoss: symbolic gradient: %w", err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return 0, nil, fmt.Errorf("klLoss: %w", err)
	}
	value, ok := loss.Value().Data().(float64)
	grad, ok2 := grads[0].Value().Data().([]float64)
	if !ok || !ok2 || len(grad) != n {
		return 0, nil, fmt.Errorf("klLoss: unexpected graph output %v / %v", loss.Value(), grads[0].Value())
	}
	return value - beta, append([]float64(nil), grad...), nil
}
