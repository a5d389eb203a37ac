module tcpc.dev/e2e

go 1.22
