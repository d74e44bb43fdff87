package cpu

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

// Embedding implements compute.Backend: out[n,:] = table[ids[n],:] (overwrite);
// out [N,C], table [V,C], N = len(ids).
func (be *Backend) Embedding(out, table compute.Buffer, ids []int32, C int) {
	o, tab := F(out), F(table)
	checkIDs(ids, len(tab)/C)
	be.elementwiseRows(len(ids), C, func(n0, n1 int) {
		for n := n0; n < n1; n++ {
			id := int(ids[n])
			copy(o[n*C:(n+1)*C], tab[id*C:(id+1)*C])
		}
	})
}

// EmbeddingBackward implements compute.Backend: dtable[ids[n],:] += dout[n,:]
// (accumulate); dtable [V,C], dout [N,C]. A token id can repeat, so workers
// split the columns rather than the tokens: each owns dtable[:, c0:c1] and no
// two ever add to the same element.
func (be *Backend) EmbeddingBackward(dtable, dout compute.Buffer, ids []int32, C int) {
	dt, d := F(dtable), F(dout)
	checkIDs(ids, len(dt)/C)
	body := func(c0, c1 int) {
		for n, id := range ids {
			row := dt[int(id)*C+c0 : int(id)*C+c1]
			src := d[n*C+c0 : n*C+c1]
			for i := range row {
				row[i] += src[i]
			}
		}
	}
	if len(ids)*C < parallelMin {
		body(0, C)
		return
	}
	be.parallelFor(C, body)
}

// checkIDs panics on an id outside [0, V). The model validates ids against the
// vocabulary before any kernel runs, so this only fires on an internal bug; it
// runs first so a bad id never leaves a half-written output behind.
func checkIDs(ids []int32, V int) {
	for n, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cpu: embedding: ids[%d] = %d is outside the table's %d rows", n, id, V))
		}
	}
}

// elementwiseRows splits N rows of C values across workers when the total is large.
func (be *Backend) elementwiseRows(N, C int, body func(n0, n1 int)) {
	if N*C < parallelMin {
		body(0, N)
		return
	}
	be.parallelFor(N, body)
}
