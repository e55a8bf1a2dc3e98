# IAM roles for service accounts (IRSA), each trusted only by one ServiceAccount of this
# cluster's OIDC provider. The Storefront operator itself has none: it never calls AWS.
#
# The ACK policies are least privilege for what the operator asks of ACK (docs/architecture.md#what-the-operator-creates):
# Aurora DBSubnetGroup/DBCluster/DBInstance/DBClusterSnapshot and ElastiCache
# ServerlessCache/User/UserGroup, each action one the pinned controller calls for them
# (test/delivery/terraform_test.go lists the calls, from the controllers' sources). The
# operator names every AWS resource sf-<namespace>-<name>-<hash>, so writes are limited to
# names starting with sf-; describing stays on "*".

locals {
  arn_prefix = "arn:${data.aws_partition.current.partition}"
  account    = data.aws_caller_identity.current.account_id

  ack_namespace = "ack-system"
  ack_rds_sa    = "ack-rds-controller"
  ack_cache_sa  = "ack-elasticache-controller"
  lbc_namespace = "kube-system"
  lbc_sa        = "aws-load-balancer-controller"
}

data "aws_iam_policy_document" "ack_rds" {
  statement {
    sid = "ManageStorefrontDatabases"
    actions = [
      "rds:CreateDBSubnetGroup",
      "rds:ModifyDBSubnetGroup",
      "rds:DeleteDBSubnetGroup",
      "rds:CreateDBCluster",
      "rds:ModifyDBCluster",
      "rds:DeleteDBCluster",
      "rds:CreateDBInstance",
      "rds:ModifyDBInstance",
      "rds:DeleteDBInstance",
      "rds:CreateDBClusterSnapshot",
      "rds:DeleteDBClusterSnapshot",
      # spec.database.aurora.restoreFrom: AWS authorises the new cluster, the snapshot
      # and the subnet group, all sf-* (the operator's snapshots are sf-*; another
      # snapshot is refused).
      "rds:RestoreDBClusterFromSnapshot",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
      "rds:ListTagsForResource",
    ]
    resources = [
      "${local.arn_prefix}:rds:${var.region}:${local.account}:subgrp:sf-*",
      "${local.arn_prefix}:rds:${var.region}:${local.account}:cluster:sf-*",
      "${local.arn_prefix}:rds:${var.region}:${local.account}:db:sf-*",
      # The snapshots before migrations, on demand and the final one under
      # deletionPolicy Snapshot; restores read them.
      "${local.arn_prefix}:rds:${var.region}:${local.account}:cluster-snapshot:sf-*",
    ]
  }

  statement {
    # Creating (or restoring) a cluster or instance also authorizes against the default
    # parameter and option groups it is created with.
    sid     = "UseDefaultParameterGroups"
    actions = ["rds:CreateDBCluster", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance", "rds:ModifyDBCluster", "rds:ModifyDBInstance"]
    resources = [
      "${local.arn_prefix}:rds:${var.region}:${local.account}:cluster-pg:*",
      "${local.arn_prefix}:rds:${var.region}:${local.account}:pg:*",
      "${local.arn_prefix}:rds:${var.region}:${local.account}:og:*",
    ]
  }

  statement {
    sid = "Describe"
    actions = [
      "rds:DescribeDBSubnetGroups",
      "rds:DescribeDBClusters",
      "rds:DescribeDBInstances",
      "rds:DescribeDBClusterSnapshots",
      "rds:DescribeDBEngineVersions",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeVpcs",
    ]
    resources = ["*"]
  }

  statement {
    # storageEncrypted: true uses the aws/rds key, through RDS only; restoring an
    # encrypted snapshot also decrypts with it.
    sid       = "EncryptThroughRDS"
    actions   = ["kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["rds.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "RDSServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.arn_prefix}:iam::${local.account}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["rds.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "ack_elasticache" {
  statement {
    # The cache's access control is a UserGroup of Users (the default user and the
    # shop's), all sf-*. Creating or modifying the cache with its userGroupId is
    # authorised on the user group too, and a user group on its users.
    sid = "ManageStorefrontCaches"
    actions = [
      "elasticache:CreateServerlessCache",
      "elasticache:ModifyServerlessCache",
      "elasticache:DeleteServerlessCache",
      "elasticache:CreateUser",
      "elasticache:ModifyUser",
      "elasticache:DeleteUser",
      "elasticache:CreateUserGroup",
      "elasticache:ModifyUserGroup",
      "elasticache:DeleteUserGroup",
      "elasticache:AddTagsToResource",
      "elasticache:RemoveTagsFromResource",
      "elasticache:ListTagsForResource",
    ]
    resources = [
      "${local.arn_prefix}:elasticache:${var.region}:${local.account}:serverlesscache:sf-*",
      "${local.arn_prefix}:elasticache:${var.region}:${local.account}:user:sf-*",
      "${local.arn_prefix}:elasticache:${var.region}:${local.account}:usergroup:sf-*",
    ]
  }

  statement {
    sid = "Describe"
    actions = [
      "elasticache:DescribeServerlessCaches",
      "elasticache:DescribeUsers",
      "elasticache:DescribeUserGroups",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeTags",
    ]
    resources = ["*"]
  }

  statement {
    # A serverless cache is reached through VPC endpoints that ElastiCache creates in the
    # cache subnets with the caller's rights, tagged AmazonElastiCacheManaged.
    sid     = "CreateCacheEndpoints"
    actions = ["ec2:CreateVpcEndpoint"]
    resources = [
      "${local.arn_prefix}:ec2:${var.region}:${local.account}:vpc-endpoint/*",
    ]
    condition {
      test     = "StringLike"
      variable = "ec2:VpceServiceName"
      values   = ["com.amazonaws.elasticache.serverless.*"]
    }
  }

  statement {
    sid     = "PlaceCacheEndpoints"
    actions = ["ec2:CreateVpcEndpoint"]
    resources = [
      "${local.arn_prefix}:ec2:${var.region}:${local.account}:vpc/${module.vpc.vpc_id}",
      "${local.arn_prefix}:ec2:${var.region}:${local.account}:subnet/*",
      "${local.arn_prefix}:ec2:${var.region}:${local.account}:security-group/*",
    ]
  }

  statement {
    sid       = "TagCacheEndpoints"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.arn_prefix}:ec2:${var.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateVpcEndpoint"]
    }
  }

  statement {
    sid       = "ChangeCacheEndpoints"
    actions   = ["ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"]
    resources = ["${local.arn_prefix}:ec2:${var.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/AmazonElastiCacheManaged"
      values   = ["true"]
    }
  }

  statement {
    sid       = "ElastiCacheServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.arn_prefix}:iam::${local.account}:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticache.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "ack_rds" {
  name        = "${var.cluster_name}-ack-rds-controller"
  description = "ACK rds-controller: the Aurora objects of Storefront shops (sf-*)"
  policy      = data.aws_iam_policy_document.ack_rds.json
}

resource "aws_iam_policy" "ack_elasticache" {
  name        = "${var.cluster_name}-ack-elasticache-controller"
  description = "ACK elasticache-controller: the ElastiCache Serverless caches, users and user groups of Storefront shops (sf-*)"
  policy      = data.aws_iam_policy_document.ack_elasticache.json
}

module "ack_rds_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${var.cluster_name}-ack-rds-controller"
  role_policy_arns = {
    ack_rds = aws_iam_policy.ack_rds.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.ack_namespace}:${local.ack_rds_sa}"]
    }
  }
}

module "ack_elasticache_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${var.cluster_name}-ack-elasticache-controller"
  role_policy_arns = {
    ack_elasticache = aws_iam_policy.ack_elasticache.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.ack_namespace}:${local.ack_cache_sa}"]
    }
  }
}

# The AWS Load Balancer Controller's policy is the one its project publishes, kept
# current by the IAM module.
module "lbc_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name                              = "${var.cluster_name}-aws-load-balancer-controller"
  attach_load_balancer_controller_policy = true
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.lbc_namespace}:${local.lbc_sa}"]
    }
  }
}
