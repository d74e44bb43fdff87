package cpu

// openBLAS is a handle on libopenblas.so.0 loaded at run time.
// (Placeholder: the loader replaces this file.)
type openBLAS struct{}

func loadOpenBLAS() *openBLAS { return nil }
