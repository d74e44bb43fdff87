package cuda

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

const rowThreads = 256

// Embedding implements compute.Backend: out[n,:] = table[ids[n],:]; out [N,C], table [V,C].
func (be *Backend) Embedding(out, table compute.Buffer, ids []int32, C int) {
	o, tab := buf("Embedding", "out", out), buf("Embedding", "table", table)
	checkIDs("Embedding", ids, tab.n/C)
	mustHaveLen("Embedding", "out", "N·C", o.n, len(ids)*C)
	defer be.enter()()
	dev := be.uploadInts(ids)
	defer be.release(dev)
	be.run("embedding_fwd", d1(len(ids)), d1(rowThreads), 0, bufArg(o), bufArg(tab), ptrArg(dev.ptr), i32Arg(C))
}

// EmbeddingBackward implements compute.Backend: dtable[ids[n],:] += dout[n,:].
func (be *Backend) EmbeddingBackward(dtable, dout compute.Buffer, ids []int32, C int) {
	dt, d := buf("EmbeddingBackward", "dtable", dtable), buf("EmbeddingBackward", "dout", dout)
	checkIDs("EmbeddingBackward", ids, dt.n/C)
	mustHaveLen("EmbeddingBackward", "dout", "N·C", d.n, len(ids)*C)
	defer be.enter()()
	dev := be.uploadInts(ids)
	defer be.release(dev)
	be.run("embedding_bwd", d1(len(ids)), d1(rowThreads), 0, bufArg(dt), bufArg(d), ptrArg(dev.ptr), i32Arg(C))
}

// checkIDs panics on an id outside [0, V) before anything is queued, as the
// CPU twin does (the model validates ids first; this catches internal bugs,
// which on the device would be silent out-of-bounds reads).
func checkIDs(op string, ids []int32, V int) {
	for n, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cuda.%s: ids[%d] = %d is outside the table's %d rows", op, n, id, V))
		}
	}
}
