// Command posttrain post-trains LLaMA 3 family models: SFT, reward models, DPO and PPO.
package main

import "os"

func main() {
	os.Exit(exitCode(execute(), os.Stderr))
}
