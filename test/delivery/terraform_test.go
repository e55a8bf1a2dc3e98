package delivery

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
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
		if len(c.resourcesOfType("aws_iam_role")) > 0 {
			t.Error("an extra IAM role: the operator itself must get none (it never calls AWS)")
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
