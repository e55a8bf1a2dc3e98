# The controllers the Storefront operator relies on, then the operator itself. Chart
# versions are pinned; the ACK charts come from ECR Public.

locals {
  # The operator's chart values (charts/storefront-operator/values.yaml), fed from what
  # this configuration created. Also an output, for installing the chart by hand.
  operator_values = {
    replicaCount = var.operator_replicas
    image = {
      repository = local.operator_repository
      tag        = var.operator_image.tag
      digest     = one(data.aws_ecr_image.operator[*].image_digest)
    }
    awsRegion = var.region
    # The storefront.dev/cluster cost allocation tag on every AWS resource created through ACK.
    clusterName           = module.eks.cluster_name
    dbSubnetIds           = module.vpc.database_subnets
    dbSecurityGroupIds    = [aws_security_group.database.id]
    cacheSubnetIds        = module.vpc.elasticache_subnets
    cacheSecurityGroupIds = [aws_security_group.cache.id]
    # The internet-facing ALB lives in the public subnets and targets pod IPs (the
    # operator sets target-type ip): its connections come from those subnets only, not
    # from the whole VPC, where under the VPC CNI every pod has an address.
    ingressCidrs = module.vpc.public_subnets_cidr_blocks
    # Aurora and ElastiCache get their addresses in these subnets: the shops' egress on
    # the database and cache ports goes there and nowhere else.
    dbCidrs          = module.vpc.database_subnets_cidr_blocks
    cacheCidrs       = module.vpc.elasticache_subnets_cidr_blocks
    watchNamespaces  = var.watch_namespaces
    metricsNamespace = var.metrics_namespace
    # No role on the shops' ServiceAccounts: one --images-role-arn would be every shop's,
    # reaching every bucket. Each shop of var.images_shops gets its own role through an
    # EKS Pod Identity association instead (images-cdn.tf).
    imagesRoleArn = ""
  }
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = local.lbc_namespace
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = "1.13.0"

  values = [yamlencode({
    clusterName = module.eks.cluster_name
    region      = var.region
    vpcId       = module.vpc.vpc_id
    serviceAccount = {
      name = local.lbc_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.lbc_irsa.iam_role_arn
      }
    }
  })]
}

resource "helm_release" "ack_rds" {
  name             = "ack-rds-controller"
  namespace        = local.ack_namespace
  create_namespace = true
  repository       = "oci://public.ecr.aws/aws-controllers-k8s"
  chart            = "rds-chart"
  version          = "1.11.1"

  values = [yamlencode({
    aws = {
      region = var.region
    }
    serviceAccount = {
      name = local.ack_rds_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.ack_rds_irsa.iam_role_arn
      }
    }
  })]
}

resource "helm_release" "ack_elasticache" {
  name             = "ack-elasticache-controller"
  namespace        = local.ack_namespace
  create_namespace = true
  repository       = "oci://public.ecr.aws/aws-controllers-k8s"
  chart            = "elasticache-chart"
  version          = "1.8.0"

  values = [yamlencode({
    aws = {
      region = var.region
    }
    serviceAccount = {
      name = local.ack_cache_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.ack_elasticache_irsa.iam_role_arn
      }
    }
  })]
}

# The operator's namespace enforces the restricted Pod Security Standard, which the
# chart's pods meet (docs/install-eks.md step 4b labels it so by hand).
resource "kubernetes_namespace_v1" "operator" {
  metadata {
    name = "storefront-system"
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
    }
  }
}

resource "helm_release" "storefront_operator" {
  name      = "storefront-operator"
  namespace = kubernetes_namespace_v1.operator.metadata[0].name
  # The chart of this checkout, so that the operator matches the code next to it.
  chart = "${path.module}/../../charts/storefront-operator"

  values = [yamlencode(local.operator_values)]

  # Storefronts are only useful once ACK and the load balancer controller run; on
  # destroy, the operator goes first, while ACK can still delete what it created.
  depends_on = [
    helm_release.ack_rds,
    helm_release.ack_elasticache,
    helm_release.ack_s3,
    helm_release.ack_cloudfront,
    helm_release.ack_acm,
    helm_release.aws_load_balancer_controller,
  ]
}
