package delivery

import (
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func TestProbe2(t *testing.T) {
	_ = parser.Parse
	_ = instructions.Parse
	_ = policy.NewEvaluator
	_ = psapi.LevelRestricted
}
