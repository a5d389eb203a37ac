// argocd-cmp-server: Argo CD's config-management plugin server, built from the argo-cd
// module by tools/peers.sh (which places this file in a copy of that module so the
// module's own replace directives apply). It only runs argo-cd's own command.
package main

import (
	"os"

	"github.com/argoproj/argo-cd/v3/cmd/argocd-cmp-server/commands"
)

func main() {
	if err := commands.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
