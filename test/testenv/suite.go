package testenv

import (
	"io"
	"os"
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Scheme holds client-go's kinds and the Storefront API: what the envtest suites'
// clients read and write.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(shopv1alpha1.AddToScheme(s))
	return s
}

// SuiteLogger sends controller-runtime's logs (the operator's, in a suite) to stderr
// with -v, and nowhere otherwise. Call it after flag.Parse.
func SuiteLogger() {
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(out), zap.UseDevMode(true)))
}
