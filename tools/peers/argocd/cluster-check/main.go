// argocd-cluster-check: what Argo CD does with a cluster Secret, through argo-cd's own
// packages (built by tools/peers.sh inside a copy of the argo-cd module, beside cmp-drive).
//
//	argocd-cluster-check connect -secret FILE [-dial HOST:PORT]
//	    The application controller's path from a cluster Secret to a tenant API server:
//	    util/db.SecretToCluster, then Cluster.RESTConfig (Argo CD's transport, TLS from the
//	    Secret's tlsClientConfig). GETs /version and creates a SelfSubjectReview; prints
//	    {"name","server","project","version","username","groups"} as JSON.
//	    -dial sends the connection to HOST:PORT instead of what the server's host name
//	    resolves to (an in-process CONNECT proxy, as an /etc/hosts entry would): the TLS
//	    handshake still verifies the certificate against the Secret's server name.
//	argocd-cluster-check generate -applicationset FILE -secret FILE [-secret FILE ...]
//	    The ApplicationSet controller's cluster generator and template rendering over these
//	    cluster Secrets (listed from a controller-runtime fake client in the ApplicationSet's
//	    namespace): prints each generated Application as one JSON line.
//
// Secret files are JSON or YAML (`kubectl get secret -o json`, or a Secret written by a test).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	log "github.com/sirupsen/logrus"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/db"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argocd-cluster-check: "+format+"\n", args...)
	os.Exit(1)
}

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func readSecret(path string) *corev1.Secret {
	raw, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	var s corev1.Secret
	if err := yaml.UnmarshalStrict(raw, &s); err != nil {
		fail("%s: not a Secret: %v", path, err)
	}
	return &s
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: argocd-cluster-check connect|generate ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var secrets files
	fs.Var(&secrets, "secret", "a cluster Secret (repeatable for generate)")
	dial := fs.String("dial", "", "connect to HOST:PORT instead of the server's host")
	appset := fs.String("applicationset", "", "an ApplicationSet (generate)")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "connect":
		if len(secrets) != 1 {
			fail("connect needs one -secret")
		}
		connect(readSecret(secrets[0]), *dial)
	case "generate":
		if *appset == "" || len(secrets) == 0 {
			fail("generate needs -applicationset and -secret")
		}
		generate(*appset, secrets)
	default:
		fail("unknown command %q", os.Args[1])
	}
}

// proxy serves HTTP CONNECT on a loopback port, sending every tunnel to target.
func proxy(target string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("proxy: %v", err)
	}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodConnect {
				http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
				return
			}
			up, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusOK)
			down, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				up.Close()
				return
			}
			go func() { _, _ = io.Copy(up, down); up.Close() }()
			_, _ = io.Copy(down, up)
			down.Close()
		}))
	}()
	return "http://" + l.Addr().String()
}

func connect(secret *corev1.Secret, dial string) {
	if dial != "" {
		// Read once by http.ProxyFromEnvironment, which Argo CD's transport uses.
		os.Setenv("HTTPS_PROXY", proxy(dial))
		os.Unsetenv("NO_PROXY")
		os.Unsetenv("no_proxy")
	}
	cluster, err := db.SecretToCluster(secret)
	if err != nil {
		fail("SecretToCluster: %v", err)
	}
	config, err := cluster.RESTConfig()
	if err != nil {
		fail("RESTConfig: %v", err)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		fail("client: %v", err)
	}
	version, err := clientset.Discovery().ServerVersion()
	if err != nil {
		fail("GET /version on %s: %v", cluster.Server, err)
	}
	review, err := clientset.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		fail("SelfSubjectReview on %s: %v", cluster.Server, err)
	}
	out, _ := json.Marshal(map[string]any{
		"name":     cluster.Name,
		"server":   cluster.Server,
		"project":  cluster.Project,
		"version":  version.GitVersion,
		"username": review.Status.UserInfo.Username,
		"groups":   review.Status.UserInfo.Groups,
	})
	fmt.Println(string(out))
}

func generate(appsetFile string, secretFiles []string) {
	log.SetOutput(os.Stderr)
	raw, err := os.ReadFile(appsetFile)
	if err != nil {
		fail("%v", err)
	}
	var appset v1alpha1.ApplicationSet
	if err := yaml.UnmarshalStrict(raw, &appset); err != nil {
		fail("%s: not an ApplicationSet: %v", appsetFile, err)
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		fail("%v", err)
	}
	builder := fake.NewClientBuilder().WithScheme(scheme)
	for _, f := range secretFiles {
		builder = builder.WithObjects(readSecret(f))
	}
	client := builder.Build()
	gens := map[string]generators.Generator{"Clusters": generators.NewClusterGenerator(client, appset.Namespace)}
	apps, _, err := template.GenerateApplications(log.NewEntry(log.StandardLogger()), appset, gens, &utils.Render{}, client)
	if err != nil {
		fail("GenerateApplications: %v", err)
	}
	for _, app := range apps {
		out, _ := json.Marshal(app)
		fmt.Println(string(out))
	}
}
