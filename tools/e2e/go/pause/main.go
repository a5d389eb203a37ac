// pause: the sandbox ("infra") container of every pod in the e2e management
// cluster. It holds the pod's namespaces open, reaps orphaned children (it is
// PID 1 when the pod shares its PID namespace) and exits on SIGINT/SIGTERM.
// Built static (CGO_ENABLED=0) and packed as registry.k8s.io/pause:<tag> by
// tools/e2e/images.sh, so no registry is needed.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		switch s {
		case syscall.SIGCHLD:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		default:
			os.Exit(0)
		}
	}
}
