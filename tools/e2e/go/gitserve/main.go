// gitserve: Git's smart HTTP protocol for the e2e tests, read-only, on one address:
// every request is handed to `git http-backend` (CGI) with GIT_PROJECT_ROOT=ROOT.
//
//	gitserve -listen 127.0.0.1:8419 -root DIR [-backend /usr/lib/git-core/git-http-backend]
//
// Repositories under DIR are served at http://ADDR/<name>/ (clone, fetch); pushes are
// refused (http.receivepack stays unset), so tests commit into DIR directly.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8419", "address to listen on")
	root := flag.String("root", "", "directory holding the repositories (GIT_PROJECT_ROOT)")
	backend := flag.String("backend", "", "git http-backend binary (default: from `git --exec-path`)")
	flag.Parse()
	if *root == "" {
		log.Fatal("gitserve: -root is required")
	}
	if *backend == "" {
		out, err := exec.Command("git", "--exec-path").Output()
		if err != nil {
			log.Fatalf("gitserve: git --exec-path: %v", err)
		}
		*backend = strings.TrimSpace(string(out)) + "/git-http-backend"
	}
	if _, err := os.Stat(*backend); err != nil {
		log.Fatalf("gitserve: %v", err)
	}
	h := &cgi.Handler{
		Path: *backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + *root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
	})
	log.Printf("gitserve: serving %s on http://%s/", *root, *listen)
	log.Fatal(http.ListenAndServe(*listen, logged))
}
