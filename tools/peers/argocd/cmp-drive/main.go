// argocd-cmp-drive: drives a running argocd-cmp-server the way argocd-repo-server does,
// through argo-cd's own packages (built by tools/peers.sh inside a copy of the argo-cd
// module). The plugin sockets are found in $ARGOCD_PLUGINSOCKFILEPATH, as in the
// repo-server.
//
//	argocd-cmp-drive match      -repo DIR [-path P]
//	    The repo-server's source-type discovery (MatchRepository on every plugin socket):
//	    prints {"appType": ..., "sockets": {NAME: {"isSupported", "isDiscoveryEnabled"}}}.
//	argocd-cmp-drive parameters -repo DIR -source JSON [-app NAME]
//	    GetParametersAnnouncement with the env the repo-server sets for app details:
//	    prints the announced parameters as JSON.
//	argocd-cmp-drive generate   -repo DIR -source JSON [-app NAME -app-namespace NS ...]
//	    The repo-server's GenerateManifests for an Application source (plugin detected and
//	    streamed the repository as a tgz by argo-cd's code): prints one JSON object per
//	    line. On failure prints the error on stderr and exits 1 (nothing on stdout).
//
// -source is an Application's spec.source as JSON (its path is resolved inside -repo).
// ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS (globs, `;`-separated) is read as the repo-server
// reads it: paths left out of the tarball streamed to the plugin.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/api/resource"

	pluginclient "github.com/argoproj/argo-cd/v3/cmpserver/apiclient"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	"github.com/argoproj/argo-cd/v3/reposerver/repository"
	"github.com/argoproj/argo-cd/v3/util/app/discovery"
	"github.com/argoproj/argo-cd/v3/util/cmp"
	"github.com/argoproj/argo-cd/v3/util/env"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argocd-cmp-drive: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: argocd-cmp-drive match|parameters|generate [flags]")
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	repo := fs.String("repo", "", "repository root (the checkout the repo-server would stream)")
	path := fs.String("path", ".", "application path inside -repo (match only; else from -source)")
	sourceJSON := fs.String("source", "", "the Application's spec.source, JSON")
	app := fs.String("app", "tenant-control-planes", "Application name")
	appNS := fs.String("app-namespace", "argocd", "Application namespace")
	project := fs.String("project", "default", "AppProject")
	revision := fs.String("revision", "0123456789abcdef0123456789abcdef01234567", "resolved revision")
	kubeVersion := fs.String("kube-version", "1.36.3", "destination cluster version")
	_ = fs.Parse(os.Args[2:])
	if *repo == "" {
		fail("-repo is required")
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		fail("%v", err)
	}
	ctx := context.Background()
	excluded := env.StringsFromEnv("ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS", []string{}, ";")

	source := &v1alpha1.ApplicationSource{Path: *path}
	if *sourceJSON != "" {
		source = &v1alpha1.ApplicationSource{}
		if err := json.Unmarshal([]byte(*sourceJSON), source); err != nil {
			fail("-source: %v", err)
		}
	}
	appPath := filepath.Join(root, source.Path)

	switch cmd {
	case "match":
		env := []string{"ARGOCD_APP_NAME=" + *app, "ARGOCD_APP_SOURCE_PATH=" + source.Path}
		appType, err := discovery.AppType(ctx, appPath, root, nil, excluded, env)
		if err != nil {
			fail("discovery: %v", err)
		}
		sockets := map[string]any{}
		dir := common.GetPluginSockFilePath()
		entries, err := os.ReadDir(dir)
		if err != nil {
			fail("%v", err)
		}
		for _, e := range entries {
			if e.Type() != os.ModeSocket {
				continue
			}
			conn, client, err := pluginclient.NewConfigManagementPluginClientSet(filepath.Join(dir, e.Name())).NewConfigManagementPluginClient()
			if err != nil {
				fail("connecting to %s: %v", e.Name(), err)
			}
			stream, err := client.MatchRepository(ctx)
			if err != nil {
				fail("MatchRepository: %v", err)
			}
			if err := cmp.SendRepoStream(ctx, appPath, root, stream, env, excluded); err != nil {
				fail("sending the repository: %v", err)
			}
			resp, err := stream.CloseAndRecv()
			if err != nil {
				fail("MatchRepository: %v", err)
			}
			cfg, err := client.CheckPluginConfiguration(ctx, &emptypb.Empty{})
			if err != nil {
				fail("CheckPluginConfiguration: %v", err)
			}
			_ = conn.Close()
			sockets[e.Name()] = map[string]bool{
				"isSupported": resp.GetIsSupported(), "isDiscoveryEnabled": resp.GetIsDiscoveryEnabled(),
				"provideGitCreds": cfg.GetProvideGitCreds(),
			}
		}
		out(map[string]any{"appType": appType, "sockets": sockets})

	case "parameters":
		// As the repo-server's populatePluginAppDetails does.
		env := []string{
			"ARGOCD_APP_NAME=" + *app,
			"ARGOCD_APP_SOURCE_REPO_URL=" + source.RepoURL,
			"ARGOCD_APP_SOURCE_PATH=" + source.Path,
			"ARGOCD_APP_SOURCE_TARGET_REVISION=" + source.TargetRevision,
		}
		pluginName := ""
		if source.Plugin != nil {
			for _, e := range source.Plugin.Env {
				env = append(env, "ARGOCD_ENV_"+e.Name+"="+e.Value)
			}
			params, err := source.Plugin.Parameters.Environ()
			if err != nil {
				fail("%v", err)
			}
			env = append(env, params...)
			pluginName = source.Plugin.Name
		}
		conn, client, err := discovery.DetectConfigManagementPlugin(ctx, appPath, root, pluginName, env, excluded)
		if err != nil {
			fail("%v", err)
		}
		defer conn.Close()
		stream, err := client.GetParametersAnnouncement(ctx)
		if err != nil {
			fail("%v", err)
		}
		if err := cmp.SendRepoStream(ctx, appPath, root, stream, env, excluded); err != nil {
			fail("sending the repository: %v", err)
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			fail("failed to get parameter announcement: %v", err)
		}
		out(resp.ParameterAnnouncements)

	case "generate":
		q := &apiclient.ManifestRequest{
			Repo:              &v1alpha1.Repository{Repo: source.RepoURL},
			Revision:          source.TargetRevision,
			AppName:           *app,
			Namespace:         *appNS,
			ProjectName:       *project,
			ApplicationSource: source,
			KubeVersion:       *kubeVersion,
			ApiVersions:       []string{"v1", "apps/v1"},
		}
		resp, err := repository.GenerateManifests(ctx, appPath, root, *revision, q, false, nil, resource.MustParse("0"), nil,
			repository.WithCMPTarExcludedGlobs(excluded))
		if err != nil {
			fail("%v", err)
		}
		fmt.Fprintf(os.Stderr, "argocd-cmp-drive: source type %s, %d manifest(s)\n", resp.SourceType, len(resp.Manifests))
		fmt.Println(strings.Join(resp.Manifests, "\n"))

	default:
		fail("unknown command %q", cmd)
	}
}

func out(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(b))
}
