module tcpc.local/goverify

go 1.22
