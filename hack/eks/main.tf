# The network and the cluster. Everything the Storefront operator later asks ACK to create
# (Aurora clusters, ElastiCache Serverless caches) lands in the database and cache subnets
# below, behind the security groups of security-groups.tf.

data "aws_availability_zones" "available" {
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 3)

  # A /16 gives /20 private subnets (nodes and pods: the VPC CNI gives every pod a VPC
  # address) and /24 public, database and cache subnets; smaller VPCs scale down alike.
  newbits_private = 4
  newbits_small   = 8

  tags = merge(var.tags, {
    "storefront.dev/cluster" = var.cluster_name
    "managed-by"             = "terraform"
  })
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.21.0"

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets     = [for i in range(3) : cidrsubnet(var.vpc_cidr, local.newbits_private, i)]
  public_subnets      = [for i in range(3) : cidrsubnet(var.vpc_cidr, local.newbits_small, 48 + i)]
  database_subnets    = [for i in range(3) : cidrsubnet(var.vpc_cidr, local.newbits_small, 52 + i)]
  elasticache_subnets = [for i in range(3) : cidrsubnet(var.vpc_cidr, local.newbits_small, 56 + i)]

  # ACK creates each shop's DB subnet group from these subnets (the operator's
  # --db-subnet-ids); the module must not create a shared one.
  create_database_subnet_group    = false
  create_elasticache_subnet_group = false

  # One NAT gateway for the demo: cheaper, but a zone outage cuts egress. Production:
  # one_nat_gateway_per_az = true.
  enable_nat_gateway   = true
  single_nat_gateway   = true
  enable_dns_hostnames = true
  enable_dns_support   = true

  # The AWS Load Balancer Controller finds its subnets by these tags.
  public_subnet_tags = {
    "kubernetes.io/role/elb" = "1"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = "1"
  }
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "20.37.2"

  cluster_name    = var.cluster_name
  cluster_version = var.kubernetes_version

  cluster_endpoint_public_access       = true
  cluster_endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs
  # Whoever runs terraform apply becomes cluster admin (EKS access entries).
  enable_cluster_creator_admin_permissions = true
  # The OIDC provider the IRSA roles of iam.tf trust.
  enable_irsa = true

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.private_subnets

  cluster_addons = {
    coredns    = {}
    kube-proxy = {}
    # The resource metrics API (metrics.k8s.io) every shop's HorizontalPodAutoscaler reads
    # CPU from; without it the HPAs report FailedGetResourceMetric and never scale. An EKS
    # community add-on (https://docs.aws.amazon.com/eks/latest/userguide/community-addons.html),
    # installed once the nodes exist.
    metrics-server = {}
    # EKS Pod Identity: the shops' images roles (images-cdn.tf) reach their pods through
    # the agent, one association per shop.
    eks-pod-identity-agent = {}
    vpc-cni = {
      # Configured before the nodes join, so no pod ever runs without policy enforcement.
      before_compute = true
      most_recent    = true
      # Without this the VPC CNI ignores NetworkPolicies, and every shop's default-deny
      # policy the operator creates would silently do nothing.
      configuration_values = jsonencode({
        enableNetworkPolicy = "true"
      })
    }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.node_group.instance_types
      min_size       = var.node_group.min_size
      max_size       = var.node_group.max_size
      desired_size   = var.node_group.desired_size
    }
  }

  # The AWS Load Balancer Controller needs to tell the cluster's security groups apart.
  node_security_group_tags = {
    "kubernetes.io/cluster/${var.cluster_name}" = null
  }
}
