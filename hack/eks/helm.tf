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
    awsRegion             = var.region
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
    # The shops' role for their images buckets (images-cdn.tf), put on the
    # ServiceAccount of every shop with spec.images.bucket.
    extraArgs = ["--images-role-arn=${module.shop_images_irsa.iam_role_arn}"]
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

resource "helm_release" "storefront_operator" {
  name             = "storefront-operator"
  namespace        = "storefront-system"
  create_namespace = true
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
