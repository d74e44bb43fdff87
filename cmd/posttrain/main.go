// Command posttrain post-trains LLaMA 3 family models: SFT, reward models, DPO and PPO.
package main

import "os"

func main() {
	if err := rootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
