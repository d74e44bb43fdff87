package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/compute/cuda"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "doctor",
		Short: "Report the compute backends and the BLAS in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			be := cpu.New()
			fmt.Fprintf(w, "go:    %s %s/%s, GOMAXPROCS %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
			fmt.Fprintf(w, "cpu:   available, %d workers, GEMM: %s\n", be.Workers(), be.BLAS())
			if desc, ok := cuda.Available(); ok {
				fmt.Fprintf(w, "cuda:  available, %s\n", desc)
			} else {
				fmt.Fprintf(w, "cuda:  not available (%s)\n", desc)
			}
			return nil
		},
	})
}
