package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

const terraformInstall = "terraform not found: install Terraform >= 1.5.7 " +
	"(https://developer.hashicorp.com/terraform/install, e.g. from HashiCorp's apt repository: apt-get install terraform)"

func eksDir() string { return repoPath("hack", "eks") }

func TestTerraformFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal(terraformInstall)
	}
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff")
	cmd.Dir = eksDir()
	// No CLI configuration is needed for fmt; this keeps Terraform from warning about it.
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check -recursive hack/eks: %v (run `terraform fmt -recursive hack/eks`)\n%s", err, out)
	}
}

// tfConfig is the root module of hack/eks, parsed with HCL's native syntax parser.
type tfConfig struct {
	files     map[string]*hclsyntax.Body
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	modules   map[string]*hclsyntax.Block
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	outputs   map[string]*hclsyntax.Block
	providers map[string]map[string]string // required_providers: name -> source, version
	iterators map[string]bool              // dynamic block iterator names
}

func parseTerraform(t *testing.T) *tfConfig {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(eksDir(), "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in hack/eks (%v)", err)
	}
	c := &tfConfig{
		files: map[string]*hclsyntax.Body{}, variables: map[string]*hclsyntax.Block{},
		locals: map[string]*hclsyntax.Attribute{}, modules: map[string]*hclsyntax.Block{},
		resources: map[string]*hclsyntax.Block{}, data: map[string]*hclsyntax.Block{},
		outputs: map[string]*hclsyntax.Block{}, providers: map[string]map[string]string{},
		iterators: map[string]bool{},
	}
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", path, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		c.files[filepath.Base(path)] = body
		if len(body.Attributes) > 0 {
			t.Errorf("%s: top-level attributes are not Terraform", path)
		}
		for _, b := range body.Blocks {
			key := strings.Join(b.Labels, ".")
			dup := func(m map[string]*hclsyntax.Block) {
				if _, ok := m[key]; ok {
					t.Errorf("%s: %s %q declared twice", path, b.Type, key)
				}
				m[key] = b
			}
			switch b.Type {
			case "variable":
				dup(c.variables)
			case "module":
				dup(c.modules)
			case "resource":
				dup(c.resources)
			case "data":
				dup(c.data)
			case "output":
				dup(c.outputs)
			case "locals":
				for name, a := range b.Body.Attributes {
					if _, ok := c.locals[name]; ok {
						t.Errorf("%s: local %q declared twice", path, name)
					}
					c.locals[name] = a
				}
			case "terraform":
				for _, tb := range b.Body.Blocks {
					if tb.Type != "required_providers" {
						continue
					}
					for name, a := range tb.Body.Attributes {
						v, diags := a.Expr.Value(nil)
						if diags.HasErrors() || !v.Type().IsObjectType() {
							t.Errorf("%s: required_providers.%s is not a literal object", path, name)
							continue
						}
						req := map[string]string{}
						for k, x := range v.AsValueMap() {
							if x.Type() == cty.String {
								req[k] = x.AsString()
							}
						}
						c.providers[name] = req
					}
				}
			case "provider":
			default:
				t.Errorf("%s: unexpected top-level block %q", path, b.Type)
			}
		}
		_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if b, ok := n.(*hclsyntax.Block); ok && b.Type == "dynamic" && len(b.Labels) == 1 {
				c.iterators[b.Labels[0]] = true
				if it, ok := b.Body.Attributes["iterator"]; ok {
					c.iterators[hcl.ExprAsKeyword(it.Expr)] = true
				}
			}
			return nil
		})
	}
	return c
}

// references returns every traversal in an expression anywhere in the configuration. A
// variable's type constraint (type = list(string)) is not an expression and is skipped.
func (c *tfConfig) references() map[string][]hcl.Traversal {
	refs := map[string][]hcl.Traversal{}
	var walk func(file string, body *hclsyntax.Body, blockType string)
	walk = func(file string, body *hclsyntax.Body, blockType string) {
		for name, a := range body.Attributes {
			if blockType == "variable" && name == "type" {
				continue
			}
			refs[file] = append(refs[file], hclsyntax.Variables(a.Expr)...)
		}
		for _, b := range body.Blocks {
			walk(file, b.Body, b.Type)
		}
	}
	for name, body := range c.files {
		walk(name, body, "")
	}
	return refs
}

func TestTerraformReferencesResolve(t *testing.T) {
	c := parseTerraform(t)
	resourceTypes := map[string]bool{}
	for key := range c.resources {
		resourceTypes[strings.Split(key, ".")[0]] = true
	}
	used := map[string]bool{}
	builtins := map[string]bool{"path": true, "terraform": true, "count": true, "each": true, "self": true}
	for file, trs := range c.references() {
		for _, tr := range trs {
			root := tr.RootName()
			attr := func(i int) string {
				if i < len(tr) {
					if a, ok := tr[i].(hcl.TraverseAttr); ok {
						return a.Name
					}
				}
				return ""
			}
			where := tr.SourceRange().String()
			switch {
			case root == "var":
				if _, ok := c.variables[attr(1)]; !ok {
					t.Errorf("%s: var.%s is not declared", where, attr(1))
				}
				used["var."+attr(1)] = true
			case root == "local":
				if _, ok := c.locals[attr(1)]; !ok {
					t.Errorf("%s: local.%s is not declared", where, attr(1))
				}
				used["local."+attr(1)] = true
			case root == "module":
				if _, ok := c.modules[attr(1)]; !ok {
					t.Errorf("%s: module.%s is not declared", where, attr(1))
				}
			case root == "data":
				if _, ok := c.data[attr(1)+"."+attr(2)]; !ok {
					t.Errorf("%s: data.%s.%s is not declared", where, attr(1), attr(2))
				}
			case builtins[root] || c.iterators[root]:
			case resourceTypes[root]:
				if _, ok := c.resources[root+"."+attr(1)]; !ok {
					t.Errorf("%s: %s.%s is not declared", where, root, attr(1))
				}
			default:
				t.Errorf("%s (%s): reference to %q resolves to nothing", where, file, root)
			}
		}
	}
	for _, name := range sortedKeys(c.variables) {
		if !used["var."+name] {
			t.Errorf("variable %q is declared but never used", name)
		}
	}
	for _, name := range sortedKeys(c.locals) {
		if !used["local."+name] {
			t.Errorf("local %q is declared but never used", name)
		}
	}
}

var exactVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// literal returns the string value of an attribute that is a literal, or "".
func literal(b *hclsyntax.Block, name string) string {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return ""
	}
	return v.AsString()
}

func TestTerraformVersionsArePinned(t *testing.T) {
	c := parseTerraform(t)
	if len(c.providers) == 0 {
		t.Fatal("no required_providers")
	}
	for _, name := range sortedKeys(c.providers) {
		req := c.providers[name]
		if !exactVersion.MatchString(req["version"]) {
			t.Errorf("provider %s: version %q is not pinned to an exact version", name, req["version"])
		}
		if req["source"] == "" {
			t.Errorf("provider %s has no source", name)
		}
	}
	// Every resource and data source belongs to a pinned provider.
	for _, m := range []map[string]*hclsyntax.Block{c.resources, c.data} {
		for key := range m {
			provider := strings.SplitN(key, "_", 2)[0]
			if _, ok := c.providers[provider]; !ok {
				t.Errorf("%s: provider %q is not in required_providers", key, provider)
			}
		}
	}
	for _, name := range sortedKeys(c.modules) {
		b := c.modules[name]
		src := literal(b, "source")
		if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
			continue // a local module is versioned with this repository
		}
		if !strings.HasPrefix(src, "terraform-aws-modules/") {
			t.Errorf("module %s: source %q; use the community terraform-aws-modules", name, src)
		}
		if v := literal(b, "version"); !exactVersion.MatchString(v) {
			t.Errorf("module %s: version %q is not pinned to an exact version", name, v)
		}
	}
	for key, b := range c.resources {
		if !strings.HasPrefix(key, "helm_release.") {
			continue
		}
		if _, remote := b.Body.Attributes["repository"]; remote {
			if v := literal(b, "version"); !exactVersion.MatchString(v) {
				t.Errorf("%s: chart version %q is not pinned", key, v)
			}
		}
	}
}

func TestTerraformBootstrapsWhatTheOperatorNeeds(t *testing.T) {
	c := parseTerraform(t)
	modSources := map[string]string{}
	for name, b := range c.modules {
		modSources[name] = literal(b, "source")
	}
	t.Run("a VPC and an EKS cluster from terraform-aws-modules", func(t *testing.T) {
		want := map[string]string{"vpc": "terraform-aws-modules/vpc/aws", "eks": "terraform-aws-modules/eks/aws"}
		for name, src := range want {
			if modSources[name] != src {
				t.Errorf("module %s source %q, want %s", name, modSources[name], src)
			}
		}
		vpc := c.modules["vpc"]
		for _, attr := range []string{"azs", "private_subnets", "public_subnets", "database_subnets", "elasticache_subnets"} {
			if _, ok := vpc.Body.Attributes[attr]; !ok {
				t.Errorf("module vpc lacks %s", attr)
			}
		}
		if v, _ := c.modules["vpc"].Body.Attributes["single_nat_gateway"].Expr.Value(nil); !v.True() {
			t.Error("the demo VPC should use one NAT gateway")
		}
		if _, ok := c.modules["eks"].Body.Attributes["eks_managed_node_groups"]; !ok {
			t.Error("module eks has no managed node group")
		}
		if v, _ := c.modules["eks"].Body.Attributes["enable_irsa"].Expr.Value(nil); !v.True() {
			t.Error("module eks must create the OIDC provider (enable_irsa = true)")
		}
	})

	t.Run("the VPC CNI addon enforces NetworkPolicies", func(t *testing.T) {
		addons := objectItems(t, c.modules["eks"].Body.Attributes["cluster_addons"].Expr)
		cni, ok := addons["vpc-cni"]
		if !ok {
			t.Fatal("cluster_addons has no vpc-cni")
		}
		cfgExpr, ok := objectItems(t, cni)["configuration_values"]
		if !ok {
			t.Fatal("vpc-cni has no configuration_values")
		}
		ctx := &hcl.EvalContext{Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc}}
		v, diags := cfgExpr.Value(ctx)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(v.AsString()), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["enableNetworkPolicy"] != "true" {
			t.Errorf("vpc-cni configuration %v: enableNetworkPolicy must be the string \"true\"", cfg)
		}
	})

	t.Run("IRSA roles for the ACK controllers and the load balancer controller", func(t *testing.T) {
		want := map[string]string{
			"ack_rds_irsa":         "ack-system:ack-rds-controller",
			"ack_elasticache_irsa": "ack-system:ack-elasticache-controller",
			"lbc_irsa":             "kube-system:aws-load-balancer-controller",
		}
		for name, sa := range want {
			if modSources[name] != "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks" {
				t.Errorf("module %s source %q", name, modSources[name])
			}
			rng := c.modules[name].Body.Attributes["oidc_providers"].Expr.Range()
			src := string(rng.SliceBytes(mustRead(t, rng.Filename)))
			if !strings.Contains(src, "module.eks.oidc_provider_arn") {
				t.Errorf("module %s does not trust the cluster's OIDC provider", name)
			}
			// The service accounts are built from locals; check the locals resolve to sa.
			ns, acct := strings.SplitN(sa, ":", 2)[0], strings.SplitN(sa, ":", 2)[1]
			if !localResolvesTo(t, c, src, ns) || !localResolvesTo(t, c, src, acct) {
				t.Errorf("module %s does not bind to %s: %s", name, sa, src)
			}
		}
		for _, r := range []string{"aws_iam_policy.ack_rds", "aws_iam_policy.ack_elasticache"} {
			if _, ok := c.resources[r]; !ok {
				t.Errorf("no %s: the ACK controllers need their own least-privilege policies", r)
			}
		}
		for _, d := range []string{"aws_iam_policy_document.ack_rds", "aws_iam_policy_document.ack_elasticache"} {
			b, ok := c.data[d]
			if !ok {
				t.Fatalf("no data %s", d)
			}
			for _, st := range b.Body.Blocks {
				if st.Type != "statement" {
					continue
				}
				rng := st.Body.Attributes["actions"].Expr.Range()
				actions := string(rng.SliceBytes(mustRead(t, rng.Filename)))
				if strings.Contains(actions, `:*"`) || strings.Contains(actions, `"*"`) {
					t.Errorf("%s: wildcard action in %s", d, actions)
				}
			}
		}
		if v, _ := c.modules["lbc_irsa"].Body.Attributes["attach_load_balancer_controller_policy"].Expr.Value(nil); !v.True() {
			t.Error("lbc_irsa must attach the load balancer controller policy")
		}
		// The only roles outside the IRSA modules are the shops' images roles
		// (TestTerraformShopImagesRolesReachOnlyTheirOwnBucket).
		for key := range c.resources {
			if strings.HasPrefix(key, "aws_iam_role.") && key != "aws_iam_role.shop_images" {
				t.Errorf("an extra IAM role %s: the operator itself must get none (it never calls AWS)", key)
			}
		}
	})

	t.Run("security groups allow 5432 and 6379 from the nodes", func(t *testing.T) {
		for sg, port := range map[string]int64{"database": 5432, "cache": 6379} {
			found := false
			for _, b := range c.resourcesOfType("aws_vpc_security_group_ingress_rule") {
				from, _ := b.Body.Attributes["from_port"].Expr.Value(nil)
				rng := b.Body.Attributes["security_group_id"].Expr.Range()
				target := string(rng.SliceBytes(mustRead(t, rng.Filename)))
				if target != "aws_security_group."+sg+".id" {
					continue
				}
				if bf := from.AsBigFloat(); !bf.IsInt() {
					continue
				} else if n, _ := bf.Int64(); n == port {
					found = true
				}
				rr := b.Body.Attributes["referenced_security_group_id"].Expr.Range()
				fe := b.Body.Attributes["for_each"].Expr.Range()
				if !strings.Contains(string(rr.SliceBytes(mustRead(t, rr.Filename))), "each.value") ||
					!strings.Contains(string(fe.SliceBytes(mustRead(t, fe.Filename))), "local.node_security_groups") {
					t.Errorf("%s ingress rule is not from the node security groups", sg)
				}
			}
			if !found {
				t.Errorf("no ingress rule on aws_security_group.%s for port %d", sg, port)
			}
		}
	})

	t.Run("helm releases: pinned ACK charts from ECR Public, the load balancer controller and the operator", func(t *testing.T) {
		want := map[string][3]string{ // repository, chart, version
			"helm_release.ack_rds":                      {"oci://public.ecr.aws/aws-controllers-k8s", "rds-chart", "1.11.1"},
			"helm_release.ack_elasticache":              {"oci://public.ecr.aws/aws-controllers-k8s", "elasticache-chart", "1.8.0"},
			"helm_release.aws_load_balancer_controller": {"https://aws.github.io/eks-charts", "aws-load-balancer-controller", ""},
		}
		for key, w := range want {
			b, ok := c.resources[key]
			if !ok {
				t.Errorf("no %s", key)
				continue
			}
			if literal(b, "repository") != w[0] || literal(b, "chart") != w[1] || (w[2] != "" && literal(b, "version") != w[2]) {
				t.Errorf("%s: %s %s %s, want %v", key, literal(b, "repository"), literal(b, "chart"), literal(b, "version"), w)
			}
		}
		op, ok := c.resources["helm_release.storefront_operator"]
		if !ok {
			t.Fatal("no helm_release.storefront_operator")
		}
		chartExpr := op.Body.Attributes["chart"].Expr
		v, diags := chartExpr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(eksDir())}),
		}})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if got, _ := filepath.Abs(v.AsString()); got != chartDir() {
			t.Errorf("operator chart %s, want this repository's %s", got, chartDir())
		}
	})

	t.Run("the operator's values are fed from the outputs and exist in the chart", func(t *testing.T) {
		a, ok := c.locals["operator_values"]
		if !ok {
			t.Fatal("no local.operator_values")
		}
		items := objectItems(t, a.Expr)
		chartValues := loadChart(t).Values
		for _, k := range sortedKeys(items) {
			if _, ok := chartValues[k]; !ok {
				t.Errorf("operator_values.%s is not a value of the chart", k)
			}
		}
		feeds := map[string]string{
			"awsRegion":             "var.region",
			"dbSubnetIds":           "module.vpc.database_subnets",
			"dbSecurityGroupIds":    "aws_security_group.database.id",
			"cacheSubnetIds":        "module.vpc.elasticache_subnets",
			"cacheSecurityGroupIds": "aws_security_group.cache.id",
			// The ALB connects from the public subnets; the whole VPC would admit every
			// pod of the cluster (the VPC CNI gives pods VPC addresses).
			"ingressCidrs": "module.vpc.public_subnets_cidr_blocks",
			"dbCidrs":      "module.vpc.database_subnets_cidr_blocks",
			"cacheCidrs":   "module.vpc.elasticache_subnets_cidr_blocks",
		}
		for k, ref := range feeds {
			e, ok := items[k]
			if !ok {
				t.Errorf("operator_values has no %s", k)
				continue
			}
			rng := e.Range()
			if src := string(rng.SliceBytes(mustRead(t, rng.Filename))); !strings.Contains(src, ref) {
				t.Errorf("operator_values.%s = %s, want it fed from %s", k, src, ref)
			}
		}
		if rng := items["ingressCidrs"].Range(); strings.Contains(string(rng.SliceBytes(mustRead(t, rng.Filename))), "vpc_cidr_block") {
			t.Error("ingressCidrs includes the VPC CIDR: under the VPC CNI that admits every pod of the cluster")
		}
		image := objectItems(t, items["image"])
		for k, ref := range map[string]string{"repository": "local.operator_repository", "tag": "var.operator_image.tag", "digest": "data.aws_ecr_image.operator"} {
			rng := image[k].Range()
			if src := string(rng.SliceBytes(mustRead(t, rng.Filename))); !strings.Contains(src, ref) {
				t.Errorf("operator_values.image.%s = %s, want it from %s", k, src, ref)
			}
		}
		for _, out := range []string{"db_subnet_ids", "db_security_group_id", "cache_subnet_ids", "cache_security_group_id", "vpc_cidr_block",
			"public_subnet_cidrs", "db_subnet_cidrs", "cache_subnet_cidrs", "operator_repository_url", "shop_repository_url", "operator_values"} {
			if _, ok := c.outputs[out]; !ok {
				t.Errorf("no output %s", out)
			}
		}
	})
}

// Every HorizontalPodAutoscaler reads CPU from the resource metrics API, which only
// metrics-server serves.
func TestTerraformInstallsMetricsServer(t *testing.T) {
	c := parseTerraform(t)
	addons := objectItems(t, c.modules["eks"].Body.Attributes["cluster_addons"].Expr)
	ms, ok := addons["metrics-server"]
	if !ok {
		t.Fatal("cluster_addons has no metrics-server: every HPA would report FailedGetResourceMetric")
	}
	// Installed before the nodes exist it could not be scheduled.
	if v, ok := objectItems(t, ms)["before_compute"]; ok {
		if b, _ := v.Value(nil); b.True() {
			t.Error("metrics-server is installed before the node group")
		}
	}
}

// No image is published: Terraform creates the repositories the images are pushed to,
// requires the operator's tag, and checks it exists before the chart pulls it.
func TestTerraformImagesExistBeforeTheChartPullsThem(t *testing.T) {
	c := parseTerraform(t)
	repos, ok := c.resources["aws_ecr_repository.images"]
	if !ok {
		t.Fatal("no aws_ecr_repository.images")
	}
	if literal(repos, "image_tag_mutability") != "IMMUTABLE" {
		t.Error("ECR tags must be immutable: a tag names one reviewed image")
	}
	fe := repos.Body.Attributes["for_each"].Expr.Range()
	if src := string(fe.SliceBytes(mustRead(t, fe.Filename))); !strings.Contains(src, "local.images") {
		t.Errorf("aws_ecr_repository.images for_each = %s, want local.images", src)
	}
	images := objectItems(t, c.locals["images"].Expr)
	for key, name := range map[string]string{"operator": "storefront-operator", "shop": "shop"} {
		v, ok := images[key]
		if !ok {
			t.Errorf("local.images has no %s repository", key)
			continue
		}
		if got, _ := v.Value(nil); got.AsString() != name {
			t.Errorf("local.images.%s = %s, want %s", key, got.AsString(), name)
		}
	}

	v := c.variables["operator_image"]
	if v == nil {
		t.Fatal("no variable operator_image")
	}
	if _, hasDefault := v.Body.Attributes["default"]; hasDefault {
		t.Error("operator_image has a default: no published image exists for it to name")
	}
	check, ok := c.data["aws_ecr_image.operator"]
	if !ok {
		t.Fatal("no data aws_ecr_image.operator: a missing tag would only show as ImagePullBackOff")
	}
	for attr, ref := range map[string]string{"repository_name": `aws_ecr_repository.images["operator"]`, "image_tag": "var.operator_image.tag"} {
		rng := check.Body.Attributes[attr].Expr.Range()
		if src := string(rng.SliceBytes(mustRead(t, rng.Filename))); !strings.Contains(src, ref) {
			t.Errorf("data aws_ecr_image.operator %s = %s, want %s", attr, src, ref)
		}
	}
	readme := string(mustRead(t, filepath.Join(eksDir(), "README.md")))
	for _, want := range []string{"-target=aws_ecr_repository.images", "make docker-build docker-push IMG=", "SHOP_IMG=", "terraform output -raw ecr_login_command"} {
		if !strings.Contains(readme, want) {
			t.Errorf("hack/eks/README.md does not say %q", want)
		}
	}
}

func TestTerraformVariablesAreDocumentedAndValidated(t *testing.T) {
	c := parseTerraform(t)
	for _, name := range sortedKeys(c.variables) {
		b := c.variables[name]
		if literal(b, "description") == "" {
			t.Errorf("variable %s has no description", name)
		}
		if _, ok := b.Body.Attributes["type"]; !ok {
			t.Errorf("variable %s has no type", name)
		}
		validations := 0
		for _, vb := range b.Body.Blocks {
			if vb.Type != "validation" {
				continue
			}
			validations++
			if _, ok := vb.Body.Attributes["condition"]; !ok {
				t.Errorf("variable %s: validation without condition", name)
			}
			if literal(vb, "error_message") == "" {
				t.Errorf("variable %s: validation without error_message", name)
			}
		}
		if validations == 0 {
			t.Errorf("variable %s has no validation", name)
		}
	}
	for _, name := range sortedKeys(c.outputs) {
		if literal(c.outputs[name], "description") == "" {
			t.Errorf("output %s has no description", name)
		}
	}

	t.Run("demo.tfvars sets only declared variables and every required one", func(t *testing.T) {
		f, diags := hclparse.NewParser().ParseHCLFile(filepath.Join(eksDir(), "demo.tfvars"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		for name, a := range attrs {
			if _, ok := c.variables[name]; !ok {
				t.Errorf("demo.tfvars sets %s, which is not a variable", name)
			}
			if _, diags := a.Expr.Value(nil); diags.HasErrors() {
				t.Errorf("demo.tfvars: %s is not a literal: %s", name, diags.Error())
			}
		}
		readme := string(mustRead(t, filepath.Join(eksDir(), "README.md")))
		for name, b := range c.variables {
			if _, hasDefault := b.Body.Attributes["default"]; !hasDefault {
				// What depends on the apply (the tag just pushed) comes from the command line.
				if _, set := attrs[name]; !set && !strings.Contains(readme, "-var '"+name+"=") {
					t.Errorf("neither demo.tfvars nor the README's apply command sets the required variable %s", name)
				}
			}
		}
	})
}

func (c *tfConfig) resourcesOfType(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	keys := sortedKeys(c.resources)
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, typ+".") {
			out = append(out, c.resources[k])
		}
	}
	return out
}

// objectItems returns the items of an object constructor expression by their literal key.
func objectItems(t *testing.T, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s: not an object", e.Range())
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			// A bare identifier key (foo = ...) is a keyword, not a value.
			k = cty.StringVal(hcl.ExprAsKeyword(item.KeyExpr))
		}
		if k.Type() == cty.String && k.AsString() != "" {
			out[k.AsString()] = item.ValueExpr
		}
	}
	return out
}

// localResolvesTo reports whether src names a local whose literal value is want, or
// contains want itself.
func localResolvesTo(t *testing.T, c *tfConfig, src, want string) bool {
	t.Helper()
	if strings.Contains(src, want) {
		return true
	}
	for name, a := range c.locals {
		if !strings.Contains(src, "local."+name) {
			continue
		}
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.AsString() == want {
			return true
		}
	}
	return false
}

var fileCache = map[string][]byte{}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	if b, ok := fileCache[path]; ok {
		return b
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fileCache[path] = b
	return b
}

// The IAM policies of hack/eks, evaluated: what an ACK controller, or a shop, may do.
//
// An example shop, shops/acme: its AWS identifier (controllers/names_test.go
// TestAWSIdentifier) names every AWS resource of it.
const (
	exampleRegion    = "eu-west-1"
	exampleAccount   = "123456789012"
	exampleCluster   = "storefront"
	exampleVPC       = "vpc-0a1b2c3d4e5f60001"
	exampleAWSID     = "sf-shops-acme-7cbb1ef7"
	exampleBucket    = exampleAWSID + "-0badf00d" // imagesBucketName: the AWS identifier and 8 hex of the UID
	exampleClusterID = exampleAWSID               // the first DBCluster; a restore's is <id>-r<N>
)

// tfEval evaluates hack/eks's expressions with made-up values for what only an apply
// knows (the account, the VPC, the cluster).
type tfEval struct {
	c    *tfConfig
	vars map[string]cty.Value
}

func newTFEval(t *testing.T, c *tfConfig, vars map[string]cty.Value) *tfEval {
	t.Helper()
	all := map[string]cty.Value{}
	for name, b := range c.variables {
		if d, ok := b.Body.Attributes["default"]; ok {
			if v, diags := d.Expr.Value(nil); !diags.HasErrors() {
				all[name] = v
			}
		}
	}
	all["region"], all["cluster_name"] = cty.StringVal(exampleRegion), cty.StringVal(exampleCluster)
	for k, v := range vars {
		all[k] = v
	}
	return &tfEval{c: c, vars: all}
}

// terraformFunctions are the functions of Terraform's language that hack/eks's IAM
// expressions use, with Terraform's semantics.
func terraformFunctions() map[string]function.Function {
	sha := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			sum := sha256.Sum256([]byte(args[0].AsString()))
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	})
	// Terraform's replace takes a regular expression between slashes.
	replace := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}, {Name: "replace", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if s := args[1].AsString(); len(s) > 1 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
				return stdlib.RegexReplace(args[0], cty.StringVal(s[1:len(s)-1]), args[2])
			}
			return stdlib.Replace(args[0], args[1], args[2])
		},
	})
	return map[string]function.Function{
		"lower": stdlib.LowerFunc, "substr": stdlib.SubstrFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"format": stdlib.FormatFunc, "length": stdlib.LengthFunc, "merge": stdlib.MergeFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "sha256": sha, "replace": replace,
	}
}

// ctx is the evaluation context: var, the data sources and module outputs an IAM
// expression reads, and every local that evaluates from them.
func (e *tfEval) ctx(each map[string]cty.Value) *hcl.EvalContext {
	ctx := &hcl.EvalContext{Functions: terraformFunctions(), Variables: map[string]cty.Value{
		"var": cty.ObjectVal(e.vars),
		"data": cty.ObjectVal(map[string]cty.Value{
			"aws_partition":       cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"partition": cty.StringVal("aws")})}),
			"aws_caller_identity": cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"account_id": cty.StringVal(exampleAccount)})}),
		}),
		"module": cty.ObjectVal(map[string]cty.Value{
			"vpc": cty.ObjectVal(map[string]cty.Value{"vpc_id": cty.StringVal(exampleVPC)}),
			"eks": cty.ObjectVal(map[string]cty.Value{
				"cluster_name": cty.StringVal(exampleCluster),
				"cluster_arn":  cty.StringVal("arn:aws:eks:" + exampleRegion + ":" + exampleAccount + ":cluster/" + exampleCluster),
			}),
		}),
	}}
	if each != nil {
		ctx.Variables["each"] = cty.ObjectVal(each)
	}
	// Locals may read locals: evaluate until no more evaluate.
	locals := map[string]cty.Value{}
	for progress := true; progress; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, a := range e.c.locals {
			if _, done := locals[name]; done {
				continue
			}
			if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				locals[name] = v
				progress = true
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// iamStatement is a statement of an aws_iam_policy_document, evaluated.
type iamStatement struct {
	sid                  string
	actions, resources   []string
	principals           []string // type:identifier
	conditions           []iamCondition
	denies, hasNotAction bool
}

type iamCondition struct {
	test, variable string
	values         []string
}

// policyStatements evaluates the statements of data.aws_iam_policy_document.<name>,
// with each (for_each) when given.
func (e *tfEval) policyStatements(t *testing.T, name string, each map[string]cty.Value) []iamStatement {
	t.Helper()
	b, ok := e.c.data["aws_iam_policy_document."+name]
	if !ok {
		t.Fatalf("no data aws_iam_policy_document.%s", name)
	}
	ctx := e.ctx(each)
	strs := func(body *hclsyntax.Body, attr string) []string {
		a, ok := body.Attributes[attr]
		if !ok {
			return nil
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("%s: %s.%s: %s", a.Expr.Range(), name, attr, diags.Error())
		}
		var out []string
		for _, x := range v.AsValueSlice() {
			out = append(out, x.AsString())
		}
		return out
	}
	var out []iamStatement
	for _, sb := range b.Body.Blocks {
		if sb.Type != "statement" {
			continue
		}
		st := iamStatement{sid: literal(sb, "sid"), actions: strs(sb.Body, "actions"), resources: strs(sb.Body, "resources")}
		st.denies = literal(sb, "effect") == "Deny"
		_, st.hasNotAction = sb.Body.Attributes["not_actions"]
		for _, inner := range sb.Body.Blocks {
			switch inner.Type {
			case "condition":
				st.conditions = append(st.conditions, iamCondition{
					test: literal(inner, "test"), variable: literal(inner, "variable"), values: strs(inner.Body, "values"),
				})
			case "principals":
				for _, id := range strs(inner.Body, "identifiers") {
					st.principals = append(st.principals, literal(inner, "type")+":"+id)
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// iamMatch reports whether value matches an IAM pattern (* any run, ? one character).
func iamMatch(pattern, value string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(value)
}

// iamRequest is one authorisation AWS makes: an action on a resource, with the values of
// the condition keys the request carries.
type iamRequest struct {
	action, resource string
	context          map[string]string
}

// allows reports whether the statements allow the request (they hold no Deny: checked
// by the callers). A condition whose key the request does not carry does not match.
func allows(sts []iamStatement, req iamRequest) bool {
	for _, st := range sts {
		if st.denies {
			continue
		}
		// A trust policy's statements name principals and no resource: the role itself.
		actionOK, resourceOK := false, len(st.resources) == 0 && len(st.principals) > 0
		for _, a := range st.actions {
			actionOK = actionOK || iamMatch(strings.ToLower(a), strings.ToLower(req.action))
		}
		for _, r := range st.resources {
			resourceOK = resourceOK || iamMatch(r, req.resource)
		}
		if !actionOK || !resourceOK {
			continue
		}
		conditionsOK := true
		for _, c := range st.conditions {
			v, ok := req.context[c.variable]
			matched := false
			for _, want := range c.values {
				switch c.test {
				case "StringEquals", "ArnEquals":
					matched = matched || (ok && v == want)
				case "StringLike", "ArnLike":
					matched = matched || (ok && iamMatch(want, v))
				}
			}
			conditionsOK = conditionsOK && matched
		}
		if conditionsOK {
			return true
		}
	}
	return false
}

// operatorACKKinds returns the ACK kinds the operator creates, as group/Kind: every
// schema.GroupVersionKind literal of a *.services.k8s.aws group in controllers/.
func operatorACKKinds(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(repoPath("controllers", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "GroupVersionKind" {
				return true
			}
			fields := map[string]string{}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				val, _ := kv.Value.(*ast.BasicLit)
				if key != nil && val != nil && val.Kind == token.STRING {
					fields[key.Name], _ = strconv.Unquote(val.Value)
				}
			}
			if strings.HasSuffix(fields["Group"], ".services.k8s.aws") && fields["Kind"] != "" {
				kinds[fields["Group"]+"/"+fields["Kind"]] = true
			}
			return true
		})
	}
	if len(kinds) == 0 {
		t.Fatal("found no ACK kind in controllers/")
	}
	return sortedKeys(kinds)
}

// ackCall is an action AWS authorises when the pinned ACK controller makes one of its
// calls for an object of the operator, on the ARNs AWS checks it against (the Service
// Authorization Reference's resource types for the action), with the request's
// condition keys.
type ackCall struct {
	action    string
	resources []string
	context   map[string]string
}

func rdsARN(kind, id string) string {
	return "arn:aws:rds:" + exampleRegion + ":" + exampleAccount + ":" + kind + ":" + id
}

func cacheARN(kind, id string) string {
	return "arn:aws:elasticache:" + exampleRegion + ":" + exampleAccount + ":" + kind + ":" + id
}

func ec2ARN(res string) string {
	return "arn:aws:ec2:" + exampleRegion + ":" + exampleAccount + ":" + res
}

// TestTerraformACKPoliciesAllowTheControllersCalls: every AWS call the pinned ACK
// controllers make for the objects the operator creates is allowed by the controller's
// policy in hack/eks. Without one, ACK reports the AccessDenied as ACK.Recoverable and the
// shop never gets its database, cache or images.
func TestTerraformACKPoliciesAllowTheControllersCalls(t *testing.T) {
	var (
		subgrp        = rdsARN("subgrp", exampleAWSID)
		cluster       = rdsARN("cluster", exampleClusterID)
		restored      = rdsARN("cluster", exampleClusterID+"-r1")
		instance      = rdsARN("db", exampleAWSID)
		snapshot      = rdsARN("cluster-snapshot", exampleAWSID+"-manual-f7aacef2-1")
		finalSnapshot = rdsARN("cluster-snapshot", exampleAWSID+"-final-f7aacef2")
		clusterPG     = rdsARN("cluster-pg", "default.aurora-postgresql16")
		instancePG    = rdsARN("pg", "default.aurora-postgresql16")
		optionGroup   = rdsARN("og", "default:aurora-postgresql-16")
		rdsKey        = map[string]string{"kms:ViaService": "rds." + exampleRegion + ".amazonaws.com"}
		kmsKey        = "arn:aws:kms:" + exampleRegion + ":" + exampleAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"

		cache       = cacheARN("serverlesscache", exampleAWSID)
		userGroup   = cacheARN("usergroup", exampleAWSID)
		defaultUser = cacheARN("user", exampleAWSID+"-default")
		shopUser    = cacheARN("user", exampleAWSID+"-v1")
		endpoint    = ec2ARN("vpc-endpoint/*")

		bucket = "arn:aws:s3:::" + exampleBucket

		distribution = "arn:aws:cloudfront::" + exampleAccount + ":distribution/E2QWRUHEXAMPLE"
		oac          = "arn:aws:cloudfront::" + exampleAccount + ":origin-access-control/E1A2B3C4EXAMPLE"
		cachePolicy  = "arn:aws:cloudfront::" + exampleAccount + ":cache-policy/4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
		certificate  = "arn:aws:acm:us-east-1:" + exampleAccount + ":certificate/12345678-1234-1234-1234-123456789012"
	)
	tags := func(arn string) []ackCall { // the controllers' tag sync; creates with tags need AddTagsToResource too
		return []ackCall{{action: "rds:AddTagsToResource", resources: []string{arn}},
			{action: "rds:RemoveTagsFromResource", resources: []string{arn}},
			{action: "rds:ListTagsForResource", resources: []string{arn}}}
	}
	cacheTags := func(arn string) []ackCall {
		return []ackCall{{action: "elasticache:AddTagsToResource", resources: []string{arn}},
			{action: "elasticache:RemoveTagsFromResource", resources: []string{arn}},
			{action: "elasticache:ListTagsForResource", resources: []string{arn}}}
	}
	join := func(lists ...[]ackCall) []ackCall {
		var out []ackCall
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	// For each kind: the controller's policy, the sources the calls come from (at the
	// commits of /work/shared/ack-crds/SOURCES.md: rds-controller 8b3f5f27, 1.11.1;
	// elasticache-controller a99ef759, 1.8.0; s3-controller 1051f76f, 1.10.0;
	// cloudfront-controller 37fbad28, 1.7.1; acm-controller 6a2cf8b4, 1.3.4), and the calls
	// for what the operator sets on it.
	kinds := map[string]struct {
		policy, source string
		calls          []ackCall
	}{
		"rds.services.k8s.aws/DBSubnetGroup": {
			policy: "ack_rds", source: "rds-controller pkg/resource/db_subnet_group/sdk.go, hooks.go (syncTags, getTags)",
			calls: join([]ackCall{
				{action: "rds:DescribeDBSubnetGroups", resources: []string{subgrp}},
				{action: "rds:CreateDBSubnetGroup", resources: []string{subgrp}},
				{action: "rds:ModifyDBSubnetGroup", resources: []string{subgrp}},
				{action: "rds:DeleteDBSubnetGroup", resources: []string{subgrp}},
				{action: "ec2:DescribeSubnets", resources: []string{"*"}},
			}, tags(subgrp)),
		},
		"rds.services.k8s.aws/DBCluster": {
			policy: "ack_rds", source: "rds-controller pkg/resource/db_cluster/sdk.go, custom_update.go, hooks.go (RestoreDBClusterFromSnapshot for spec.snapshotIdentifier, syncTags)",
			calls: join([]ackCall{
				{action: "rds:DescribeDBClusters", resources: []string{cluster}},
				{action: "rds:CreateDBCluster", resources: []string{cluster, subgrp, clusterPG}},
				// spec.database.aurora.restoreFrom: a new cluster from the shop's snapshot.
				{action: "rds:RestoreDBClusterFromSnapshot", resources: []string{restored, snapshot, subgrp, clusterPG, optionGroup}},
				{action: "rds:ModifyDBCluster", resources: []string{cluster, clusterPG}},
				{action: "rds:DeleteDBCluster", resources: []string{cluster}},
				// deletionPolicy Snapshot: DeleteDBCluster with a final snapshot.
				{action: "rds:CreateDBClusterSnapshot", resources: []string{cluster, finalSnapshot}},
				{action: "kms:CreateGrant", resources: []string{kmsKey}, context: rdsKey},
				{action: "kms:DescribeKey", resources: []string{kmsKey}, context: rdsKey},
				{action: "kms:Decrypt", resources: []string{kmsKey}, context: rdsKey},
			}, tags(cluster), tags(restored)),
		},
		"rds.services.k8s.aws/DBInstance": {
			policy: "ack_rds", source: "rds-controller pkg/resource/db_instance/sdk.go, hooks.go (syncTags)",
			calls: join([]ackCall{
				{action: "rds:DescribeDBInstances", resources: []string{instance}},
				{action: "rds:CreateDBInstance", resources: []string{instance, cluster, instancePG, optionGroup}},
				{action: "rds:ModifyDBInstance", resources: []string{instance}},
				{action: "rds:DeleteDBInstance", resources: []string{instance}},
			}, tags(instance)),
		},
		"rds.services.k8s.aws/DBClusterSnapshot": {
			policy: "ack_rds", source: "rds-controller pkg/resource/db_cluster_snapshot/sdk.go, hooks.go (syncTags)",
			calls: join([]ackCall{
				// Adopting a snapshot that exists reads it first.
				{action: "rds:DescribeDBClusterSnapshots", resources: []string{snapshot}},
				{action: "rds:CreateDBClusterSnapshot", resources: []string{cluster, snapshot}},
				// Retention and the Delete deletion policy (controllers/storefront_snapshot.go deleteSnapshot).
				{action: "rds:DeleteDBClusterSnapshot", resources: []string{snapshot}},
			}, tags(snapshot)),
		},
		"elasticache.services.k8s.aws/ServerlessCache": {
			policy: "ack_elasticache", source: "elasticache-controller pkg/resource/serverless_cache/sdk.go, hooks.go (ModifyServerlessCache, syncTags: pkg/util/tags.go)",
			calls: join([]ackCall{
				{action: "elasticache:DescribeServerlessCaches", resources: []string{cache}},
				// The cache's spec.userGroupID: AWS authorises the user group too.
				{action: "elasticache:CreateServerlessCache", resources: []string{cache, userGroup}},
				{action: "elasticache:ModifyServerlessCache", resources: []string{cache, userGroup}},
				{action: "elasticache:DeleteServerlessCache", resources: []string{cache}},
				// What ElastiCache does with the caller's rights: its VPC endpoints.
				{action: "ec2:CreateVpcEndpoint", resources: []string{endpoint},
					context: map[string]string{"ec2:VpceServiceName": "com.amazonaws.elasticache.serverless." + exampleRegion + ".vpce-svc-0123456789abcdef0"}},
				{action: "ec2:CreateVpcEndpoint", resources: []string{ec2ARN("vpc/" + exampleVPC), ec2ARN("subnet/subnet-0a1b2c3d4e5f60011"), ec2ARN("security-group/sg-0a1b2c3d4e5f60002")}},
				{action: "ec2:CreateTags", resources: []string{endpoint}, context: map[string]string{"ec2:CreateAction": "CreateVpcEndpoint"}},
				{action: "ec2:DeleteVpcEndpoints", resources: []string{endpoint}, context: map[string]string{"aws:ResourceTag/AmazonElastiCacheManaged": "true"}},
				{action: "ec2:DescribeVpcEndpoints", resources: []string{"*"}},
				{action: "ec2:DescribeSubnets", resources: []string{"*"}},
				{action: "ec2:DescribeSecurityGroups", resources: []string{"*"}},
				{action: "ec2:DescribeVpcs", resources: []string{"*"}},
				{action: "ec2:DescribeTags", resources: []string{"*"}},
			}, cacheTags(cache)),
		},
		"elasticache.services.k8s.aws/User": {
			policy: "ack_elasticache", source: "elasticache-controller pkg/resource/user/sdk.go (spec.tags go with CreateUser)",
			calls: join([]ackCall{
				{action: "elasticache:DescribeUsers", resources: []string{defaultUser}},
				{action: "elasticache:CreateUser", resources: []string{defaultUser}},
				{action: "elasticache:CreateUser", resources: []string{shopUser}},
				{action: "elasticache:ModifyUser", resources: []string{shopUser}},
				{action: "elasticache:DeleteUser", resources: []string{shopUser}},
			}, cacheTags(defaultUser), cacheTags(shopUser)),
		},
		"elasticache.services.k8s.aws/UserGroup": {
			policy: "ack_elasticache", source: "elasticache-controller pkg/resource/user_group/sdk.go (spec.tags go with CreateUserGroup)",
			calls: join([]ackCall{
				{action: "elasticache:DescribeUserGroups", resources: []string{userGroup}},
				{action: "elasticache:CreateUserGroup", resources: []string{userGroup, defaultUser, shopUser}},
				{action: "elasticache:ModifyUserGroup", resources: []string{userGroup, defaultUser, shopUser}},
				{action: "elasticache:DeleteUserGroup", resources: []string{userGroup}},
			}, cacheTags(userGroup)),
		},
		"s3.services.k8s.aws/Bucket": {
			policy: "ack_s3", source: "s3-controller pkg/resource/bucket/sdk.go, hook.go (customFindBucket: ListBuckets; addPutFieldsToSpec: every Get; addCreateBucketTags; customUpdateBucket: the fields the operator sets)",
			calls: func() []ackCall {
				calls := []ackCall{{action: "s3:ListAllMyBuckets", resources: []string{"*"}}}
				for _, a := range []string{
					"CreateBucket", "TagResource", "DeleteBucket",
					// addPutFieldsToSpec reads every field, on every read (IAM names: the
					// Service Authorization Reference's for GetBucketAbac, GetBucketAccelerateConfiguration, ...).
					"GetBucketABAC", "GetAccelerateConfiguration", "GetAnalyticsConfiguration", "GetBucketAcl", "GetBucketCORS",
					"GetEncryptionConfiguration", "GetIntelligentTieringConfiguration", "GetInventoryConfiguration",
					"GetLifecycleConfiguration", "GetBucketLogging", "GetMetricsConfiguration", "GetBucketNotification",
					"GetBucketOwnershipControls", "GetBucketPolicy", "GetBucketPublicAccessBlock", "GetReplicationConfiguration",
					"GetBucketRequestPayment", "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite",
					"GetBucketObjectLockConfiguration",
					// desiredBucket's fields, and the policy going when the CDN goes.
					"PutEncryptionConfiguration", "PutBucketPublicAccessBlock", "PutBucketVersioning", "PutBucketOwnershipControls",
					"PutLifecycleConfiguration", "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketTagging",
				} {
					calls = append(calls, ackCall{action: "s3:" + a, resources: []string{bucket}})
				}
				return calls
			}(),
		},
		"cloudfront.services.k8s.aws/Distribution": {
			policy: "ack_cloudfront", source: "cloudfront-controller pkg/resource/distribution/sdk.go, hooks.go (syncTags: pkg/resource/tags/sync.go)",
			calls: []ackCall{
				{action: "cloudfront:CreateDistribution", resources: []string{distribution}},
				{action: "cloudfront:GetDistribution", resources: []string{distribution}},
				{action: "cloudfront:UpdateDistribution", resources: []string{distribution}},
				{action: "cloudfront:DeleteDistribution", resources: []string{distribution}},
				{action: "cloudfront:ListTagsForResource", resources: []string{distribution}},
				{action: "cloudfront:TagResource", resources: []string{distribution}},
				{action: "cloudfront:UntagResource", resources: []string{distribution}},
			},
		},
		"cloudfront.services.k8s.aws/OriginAccessControl": {
			policy: "ack_cloudfront", source: "cloudfront-controller pkg/resource/origin_access_control/sdk.go",
			calls: []ackCall{
				{action: "cloudfront:CreateOriginAccessControl", resources: []string{oac}},
				{action: "cloudfront:GetOriginAccessControl", resources: []string{oac}},
				{action: "cloudfront:UpdateOriginAccessControl", resources: []string{oac}},
				{action: "cloudfront:DeleteOriginAccessControl", resources: []string{oac}},
			},
		},
		"cloudfront.services.k8s.aws/CachePolicy": {
			policy: "ack_cloudfront", source: "cloudfront-controller pkg/resource/cache_policy/sdk.go",
			calls: []ackCall{
				{action: "cloudfront:CreateCachePolicy", resources: []string{cachePolicy}},
				{action: "cloudfront:GetCachePolicy", resources: []string{cachePolicy}},
				{action: "cloudfront:UpdateCachePolicy", resources: []string{cachePolicy}},
				{action: "cloudfront:DeleteCachePolicy", resources: []string{cachePolicy}},
			},
		},
		"acm.services.k8s.aws/Certificate": {
			policy: "ack_acm", source: "acm-controller pkg/resource/certificate/sdk.go, hooks.go (syncTags, listTags: pkg/tags/sync.go)",
			calls: []ackCall{
				{action: "acm:RequestCertificate", resources: []string{certificate}},
				{action: "acm:DescribeCertificate", resources: []string{certificate}},
				{action: "acm:UpdateCertificateOptions", resources: []string{certificate}},
				{action: "acm:DeleteCertificate", resources: []string{certificate}},
				{action: "acm:AddTagsToCertificate", resources: []string{certificate}},
				{action: "acm:RemoveTagsFromCertificate", resources: []string{certificate}},
				{action: "acm:ListTagsForCertificate", resources: []string{certificate}},
			},
		},
	}

	e := newTFEval(t, parseTerraform(t), nil)
	policies := map[string][]iamStatement{}
	for _, kind := range operatorACKKinds(t) {
		k, ok := kinds[kind]
		if !ok {
			t.Errorf("the operator creates %s: list the calls its ACK controller makes for it, from the controller's sources", kind)
			continue
		}
		if policies[k.policy] == nil {
			policies[k.policy] = e.policyStatements(t, k.policy, nil)
			for _, st := range policies[k.policy] {
				if st.denies || st.hasNotAction {
					t.Errorf("%s: statement %s: only Allow statements with actions are evaluated here", k.policy, st.sid)
				}
			}
		}
		for _, call := range k.calls {
			for _, res := range call.resources {
				if !allows(policies[k.policy], iamRequest{action: call.action, resource: res, context: call.context}) {
					t.Errorf("%s (%s): policy %s does not allow %s on %s", kind, k.source, k.policy, call.action, res)
				}
			}
		}
	}
}

// TestTerraformShopImagesRolesReachOnlyTheirOwnBucket: each shop's credentials reach its
// own images bucket and no other shop's, and only its own ServiceAccount gets them. One
// role trusted by *:*-shop and allowed on sf-*/images/* let whoever may create a
// ServiceAccount named x-shop anywhere overwrite every shop's images (stored XSS on the
// shops' CDN domains).
func TestTerraformShopImagesRolesReachOnlyTheirOwnBucket(t *testing.T) {
	c := parseTerraform(t)
	// The shops of var.images_shops and their AWS identifiers, as controllers/names_test.go
	// TestAWSIdentifier pins them; the last is named to start like the first's identifier.
	shops := []struct{ namespace, name, awsID string }{
		{"shops", "acme", exampleAWSID},
		{"team-a", "acme", "sf-team-a-acme-9201d5e7"},
		{"team-b", "acme", "sf-team-b-acme-904efe3f"},
		{"prod", "acme.eu", "sf-prod-acme-eu-a7eb4d02"},
		{"shops", strings.Repeat("shop", 20), "sf-shops-shopshopshopshopshopshopshopsho-e180f6a5"},
		{"team--a", "acme.shop", "sf-team-a-acme-shop-c937ef1b"},
		{"shops", "acme-7cbb1ef7", ""},
	}
	var list []cty.Value
	for _, s := range shops {
		list = append(list, cty.ObjectVal(map[string]cty.Value{"namespace": cty.StringVal(s.namespace), "name": cty.StringVal(s.name)}))
	}
	e := newTFEval(t, c, map[string]cty.Value{"images_shops": cty.ListVal(list)})
	t.Run("no ServiceAccount is trusted by pattern, and no role is put on every shop", func(t *testing.T) {
		ctx := e.ctx(nil)
		for _, name := range sortedKeys(c.modules) {
			a, ok := c.modules[name].Body.Attributes["oidc_providers"]
			if !ok {
				continue
			}
			// Each provider's ServiceAccounts (the provider's ARN is not known here).
			for _, item := range objectItems(t, a.Expr) {
				sas, ok := objectItems(t, item)["namespace_service_accounts"]
				if !ok {
					continue
				}
				v, diags := sas.Value(ctx)
				if diags.HasErrors() {
					t.Fatalf("module %s: namespace_service_accounts: %s", name, diags.Error())
				}
				for _, sa := range v.AsValueSlice() {
					if strings.ContainsAny(sa.AsString(), "*?") {
						t.Errorf("module %s trusts ServiceAccounts by pattern: %s", name, sa.AsString())
					}
				}
			}
			if test := c.modules[name].Body.Attributes["assume_role_condition_test"]; test != nil {
				t.Errorf("module %s sets assume_role_condition_test: its ServiceAccounts must be matched exactly", name)
			}
		}
		values := objectItems(t, c.locals["operator_values"].Expr)
		role, ok := values["imagesRoleArn"]
		if !ok {
			t.Fatal("operator_values has no imagesRoleArn")
		}
		if v, diags := role.Value(nil); diags.HasErrors() || v.AsString() != "" {
			t.Errorf("operator_values.imagesRoleArn = %s: one role on every shop's ServiceAccount reaches every shop's bucket; leave it empty (Pod Identity)",
				string(role.Range().SliceBytes(mustRead(t, role.Range().Filename))))
		}
	})

	t.Run("each shop's role is associated with its ServiceAccount", func(t *testing.T) {
		assoc, ok := c.resources["aws_eks_pod_identity_association.shop_images"]
		if !ok {
			t.Fatal("no aws_eks_pod_identity_association.shop_images")
		}
		for attr, ref := range map[string]string{"for_each": "local.images_shops", "namespace": "each.value.namespace",
			"service_account": "each.value.service_account", "role_arn": "aws_iam_role.shop_images[each.key].arn"} {
			rng := assoc.Body.Attributes[attr].Expr.Range()
			if src := string(rng.SliceBytes(mustRead(t, rng.Filename))); src != ref {
				t.Errorf("aws_eks_pod_identity_association.shop_images %s = %s, want %s", attr, src, ref)
			}
		}
	})

	imagesShops, ok := e.ctx(nil).Variables["local"].AsValueMap()["images_shops"]
	if !ok {
		t.Fatal("no local.images_shops evaluated from var.images_shops")
	}
	byKey := imagesShops.AsValueMap()
	if len(byKey) != len(shops) {
		t.Fatalf("local.images_shops has %d shops, want %d", len(byKey), len(shops))
	}
	// Each shop's bucket, as the operator names it: the identifier and 8 hex of the UID.
	bucketOf := func(i int) string {
		id := shops[i].awsID
		if id == "" {
			id = strings.TrimSuffix(byKey[shops[i].namespace+"/"+shops[i].name].GetAttr("bucket").AsString(), "-????????")
		}
		return id + "-1a2b3c4d"
	}

	for i, s := range shops {
		key := s.namespace + "/" + s.name
		each := map[string]cty.Value{"key": cty.StringVal(key), "value": byKey[key]}
		if s.awsID != "" {
			if got, want := byKey[key].GetAttr("bucket").AsString(), s.awsID+"-????????"; got != want {
				t.Errorf("%s: bucket pattern %s, want %s (controllers/names.go awsIdentifier, then the UID's 8 hex)", key, got, want)
			}
		}

		t.Run(key+" reaches its own images and nothing else", func(t *testing.T) {
			sts := e.policyStatements(t, "shop_images", each)
			for _, st := range sts {
				if st.denies || st.hasNotAction {
					t.Errorf("statement %s: only Allow statements with actions are evaluated here", st.sid)
				}
			}
			own := "arn:aws:s3:::" + bucketOf(i)
			for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} {
				if !allows(sts, iamRequest{action: a, resource: own + "/images/p/1.jpg"}) {
					t.Errorf("%s not allowed on its own bucket's images", a)
				}
				if allows(sts, iamRequest{action: a, resource: own + "/other/1.jpg"}) {
					t.Errorf("%s allowed outside images/", a)
				}
			}
			if !allows(sts, iamRequest{action: "s3:ListBucket", resource: own, context: map[string]string{"s3:prefix": "images/p/"}}) {
				t.Error("listing its images is not allowed")
			}
			for _, a := range []string{"s3:PutBucketPolicy", "s3:DeleteBucket", "s3:PutObjectAcl"} {
				if allows(sts, iamRequest{action: a, resource: own}) || allows(sts, iamRequest{action: a, resource: own + "/images/p/1.jpg"}) {
					t.Errorf("%s allowed: the shop needs only its objects", a)
				}
			}
			for j := range shops {
				if j == i {
					continue
				}
				other := "arn:aws:s3:::" + bucketOf(j)
				for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} {
					if allows(sts, iamRequest{action: a, resource: other + "/images/p/1.jpg"}) {
						t.Errorf("%s allowed on %s, the bucket of %s/%s", a, bucketOf(j), shops[j].namespace, shops[j].name)
					}
				}
				if allows(sts, iamRequest{action: "s3:ListBucket", resource: other, context: map[string]string{"s3:prefix": "images/"}}) {
					t.Errorf("listing %s allowed", bucketOf(j))
				}
			}
		})

		t.Run(key+" is assumed by its own ServiceAccount only", func(t *testing.T) {
			sts := e.policyStatements(t, "shop_images_trust", each)
			sa := s.name + "-shop"
			tagged := func(ns, sa string) map[string]string {
				return map[string]string{
					"aws:SourceAccount": exampleAccount, "aws:SourceArn": "arn:aws:eks:" + exampleRegion + ":" + exampleAccount + ":cluster/" + exampleCluster,
					"aws:RequestTag/kubernetes-namespace": ns, "aws:RequestTag/kubernetes-service-account": sa,
				}
			}
			for _, st := range sts {
				if len(st.principals) != 1 || st.principals[0] != "Service:pods.eks.amazonaws.com" {
					t.Errorf("statement %s trusts %v, want EKS Pod Identity (Service:pods.eks.amazonaws.com) only", st.sid, st.principals)
				}
				for _, cond := range st.conditions {
					for _, v := range cond.values {
						if strings.ContainsAny(v, "*?") {
							t.Errorf("statement %s: condition %s %s has a wildcard value %q", st.sid, cond.test, cond.variable, v)
						}
					}
				}
			}
			// Pod Identity assumes the role with the pod's namespace and ServiceAccount as
			// session tags: sts:AssumeRole and sts:TagSession must both be allowed.
			assumes := func(ctx map[string]string) bool {
				return allows(sts, iamRequest{action: "sts:AssumeRole", resource: "*", context: ctx}) &&
					allows(sts, iamRequest{action: "sts:TagSession", resource: "*", context: ctx})
			}
			if !assumes(tagged(s.namespace, sa)) {
				t.Errorf("%s/%s cannot assume its role", s.namespace, sa)
			}
			for _, other := range [][2]string{{"attacker", sa}, {s.namespace, "x-shop"}, {s.namespace, "default"}} {
				if assumes(tagged(other[0], other[1])) {
					t.Errorf("%s/%s assumes the role of %s", other[0], other[1], key)
				}
			}
			otherCluster := tagged(s.namespace, sa)
			otherCluster["aws:SourceArn"] = "arn:aws:eks:" + exampleRegion + ":" + exampleAccount + ":cluster/another"
			if assumes(otherCluster) {
				t.Error("another cluster's Pod Identity assumes the role")
			}
		})
	}
}

// TestTerraformInstallsTheOperatorAsTheChartExpects: the operator's values come as the
// chart's values, never as extraArgs for a flag that has one; its namespace enforces the
// restricted Pod Security Standard (docs/install-eks.md step 4b does it by hand); and
// clusterName tags every AWS resource with the cluster.
func TestTerraformInstallsTheOperatorAsTheChartExpects(t *testing.T) {
	c := parseTerraform(t)
	values := objectItems(t, c.locals["operator_values"].Expr)
	if extra, ok := values["extraArgs"]; ok {
		chartValues := loadChart(t).Values
		src := string(extra.Range().SliceBytes(mustRead(t, extra.Range().Filename)))
		for _, m := range regexp.MustCompile(`--([a-z0-9-]+)`).FindAllStringSubmatch(src, -1) {
			if _, ok := chartValues[camelCase(m[1])]; ok {
				t.Errorf("operator_values.extraArgs passes --%s: set the chart's %s", m[1], camelCase(m[1]))
			}
		}
	}
	if e, ok := values["clusterName"]; !ok {
		t.Error("operator_values has no clusterName: the AWS resources get no storefront.dev/cluster tag")
	} else if src := string(e.Range().SliceBytes(mustRead(t, e.Range().Filename))); src != "module.eks.cluster_name" {
		t.Errorf("operator_values.clusterName = %s, want module.eks.cluster_name", src)
	}

	op := c.resources["helm_release.storefront_operator"]
	if v, ok := op.Body.Attributes["create_namespace"]; ok {
		if b, _ := v.Expr.Value(nil); b.True() {
			t.Error("helm_release.storefront_operator creates its namespace: Helm gives it no Pod Security labels")
		}
	}
	nsRef := string(op.Body.Attributes["namespace"].Expr.Range().SliceBytes(mustRead(t, op.Body.Attributes["namespace"].Expr.Range().Filename)))
	ns, ok := c.resources["kubernetes_namespace_v1.operator"]
	if !ok || nsRef != "kubernetes_namespace_v1.operator.metadata[0].name" {
		t.Fatalf("helm_release.storefront_operator namespace = %s, want kubernetes_namespace_v1.operator.metadata[0].name", nsRef)
	}
	var meta *hclsyntax.Block
	for _, b := range ns.Body.Blocks {
		if b.Type == "metadata" {
			meta = b
		}
	}
	if meta == nil {
		t.Fatal("kubernetes_namespace_v1.operator has no metadata")
	}
	if literal(meta, "name") != "storefront-system" {
		t.Errorf("the operator's namespace is %q, want storefront-system (docs/install-eks.md)", literal(meta, "name"))
	}
	labels, diags := meta.Body.Attributes["labels"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := labels.AsValueMap()["pod-security.kubernetes.io/enforce"]; got.IsNull() || got.AsString() != "restricted" {
		t.Errorf("the operator's namespace labels %v: want pod-security.kubernetes.io/enforce=restricted", labels.GoString())
	}
}
