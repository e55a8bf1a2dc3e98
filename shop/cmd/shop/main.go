// Command shop is the Storefront web shop: `shop serve`, `shop migrate`, `shop seed`
// and `shop create-admin` (DESIGN §3.1).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: shop serve | migrate [--seed=none|demo] | seed --products N | create-admin --email E")
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "shop: %s: not built yet\n", os.Args[1])
	os.Exit(2)
}
