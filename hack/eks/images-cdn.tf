# Product images and the CDN (docs/architecture.md#images-and-the-cdn): the shops' role
# for their images buckets, and the ACK controllers that create the buckets, the ACM
# certificates and the CloudFront distributions, each with a least-privilege policy.
#
# The operator names every images bucket sf-<namespace>-<name>-<hash>-<uid hash>, so
# every statement is scoped to buckets whose names start with sf-.

locals {
  ack_s3_sa         = "ack-s3-controller"
  ack_cloudfront_sa = "ack-cloudfront-controller"
  ack_acm_sa        = "ack-acm-controller"
  images_buckets    = "${local.arn_prefix}:s3:::sf-*"
  # The shops' ServiceAccounts are <storefront>-shop, in the watched namespaces (any
  # namespace when none is named).
  shop_service_accounts = length(var.watch_namespaces) > 0 ? [for n in var.watch_namespaces : "${n}:*-shop"] : ["*:*-shop"]
}

# The shops read and write their images, under images/, and nothing else: no bucket
# configuration, no other prefix.
data "aws_iam_policy_document" "shop_images" {
  statement {
    sid       = "ReadWriteImages"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.images_buckets}/images/*"]
  }

  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = [local.images_buckets]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["images/*"]
    }
  }
}

resource "aws_iam_policy" "shop_images" {
  name        = "${var.cluster_name}-shop-images"
  description = "Storefront shops: their product images in the sf-* buckets the operator creates"
  policy      = data.aws_iam_policy_document.shop_images.json
}

# IRSA for the shops: the operator puts this role on every shop ServiceAccount with
# spec.images.bucket (--images-role-arn). StringLike lets one role serve every shop.
module "shop_images_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name                  = "${var.cluster_name}-shop-images"
  assume_role_condition_test = "StringLike"
  role_policy_arns = {
    shop_images = aws_iam_policy.shop_images.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = local.shop_service_accounts
    }
  }
}

data "aws_iam_policy_document" "ack_s3" {
  statement {
    sid = "ManageImagesBuckets"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:GetBucketTagging",
      "s3:PutBucketTagging",
      "s3:GetBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:GetBucketVersioning",
      "s3:PutBucketVersioning",
      "s3:GetEncryptionConfiguration",
      "s3:PutEncryptionConfiguration",
      "s3:GetBucketPublicAccessBlock",
      "s3:PutBucketPublicAccessBlock",
      "s3:GetBucketOwnershipControls",
      "s3:PutBucketOwnershipControls",
      "s3:GetLifecycleConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLogging",
      "s3:GetBucketNotification",
      "s3:GetBucketWebsite",
      "s3:GetBucketRequestPayment",
      "s3:GetAccelerateConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:GetAnalyticsConfiguration",
      "s3:GetInventoryConfiguration",
      "s3:GetMetricsConfiguration",
      "s3:GetIntelligentTieringConfiguration",
      "s3:GetBucketObjectLockConfiguration",
    ]
    resources = [local.images_buckets]
  }

  statement {
    # s3-controller finds buckets by listing them.
    sid       = "ListBuckets"
    actions   = ["s3:ListAllMyBuckets"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "ack_cloudfront" {
  statement {
    # CloudFront has no name-based ARNs: distributions, origin access controls and
    # cache policies are addressed by generated IDs, so these stay on the account.
    sid = "ManageDistributions"
    actions = [
      "cloudfront:CreateDistribution",
      "cloudfront:GetDistribution",
      "cloudfront:GetDistributionConfig",
      "cloudfront:UpdateDistribution",
      "cloudfront:DeleteDistribution",
      "cloudfront:TagResource",
      "cloudfront:UntagResource",
      "cloudfront:ListTagsForResource",
      "cloudfront:CreateOriginAccessControl",
      "cloudfront:GetOriginAccessControl",
      "cloudfront:UpdateOriginAccessControl",
      "cloudfront:DeleteOriginAccessControl",
      "cloudfront:CreateCachePolicy",
      "cloudfront:GetCachePolicy",
      "cloudfront:UpdateCachePolicy",
      "cloudfront:DeleteCachePolicy",
    ]
    resources = [
      "${local.arn_prefix}:cloudfront::${local.account}:distribution/*",
      "${local.arn_prefix}:cloudfront::${local.account}:origin-access-control/*",
      "${local.arn_prefix}:cloudfront::${local.account}:cache-policy/*",
    ]
  }

  statement {
    # A distribution's viewer certificate comes from ACM in us-east-1.
    sid       = "UseCertificates"
    actions   = ["acm:DescribeCertificate", "acm:ListCertificates"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "ack_acm" {
  statement {
    sid = "ManageCertificates"
    actions = [
      "acm:RequestCertificate",
      "acm:DescribeCertificate",
      "acm:DeleteCertificate",
      "acm:AddTagsToCertificate",
      "acm:RemoveTagsFromCertificate",
      "acm:ListTagsForCertificate",
      "acm:UpdateCertificateOptions",
    ]
    # CloudFront takes certificates from us-east-1 only.
    resources = ["${local.arn_prefix}:acm:us-east-1:${local.account}:certificate/*"]
  }
}

resource "aws_iam_policy" "ack_s3" {
  name        = "${var.cluster_name}-ack-s3-controller"
  description = "ACK s3-controller: the Storefront images buckets (sf-*)"
  policy      = data.aws_iam_policy_document.ack_s3.json
}

resource "aws_iam_policy" "ack_cloudfront" {
  name        = "${var.cluster_name}-ack-cloudfront-controller"
  description = "ACK cloudfront-controller: the Storefront distributions, origin access controls and cache policies"
  policy      = data.aws_iam_policy_document.ack_cloudfront.json
}

resource "aws_iam_policy" "ack_acm" {
  name        = "${var.cluster_name}-ack-acm-controller"
  description = "ACK acm-controller: the Storefront CDN certificates (us-east-1)"
  policy      = data.aws_iam_policy_document.ack_acm.json
}

module "ack_s3_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${var.cluster_name}-ack-s3-controller"
  role_policy_arns = {
    ack_s3 = aws_iam_policy.ack_s3.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.ack_namespace}:${local.ack_s3_sa}"]
    }
  }
}

module "ack_cloudfront_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${var.cluster_name}-ack-cloudfront-controller"
  role_policy_arns = {
    ack_cloudfront = aws_iam_policy.ack_cloudfront.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.ack_namespace}:${local.ack_cloudfront_sa}"]
    }
  }
}

module "ack_acm_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name = "${var.cluster_name}-ack-acm-controller"
  role_policy_arns = {
    ack_acm = aws_iam_policy.ack_acm.arn
  }
  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["${local.ack_namespace}:${local.ack_acm_sa}"]
    }
  }
}

# The ACK controllers of images-cdn, at the versions whose CRDs the tests use
# (hack/ack-crds.sha256).
resource "helm_release" "ack_s3" {
  name             = "ack-s3-controller"
  namespace        = local.ack_namespace
  create_namespace = true
  repository       = "oci://public.ecr.aws/aws-controllers-k8s"
  chart            = "s3-chart"
  version          = "1.10.0"

  values = [yamlencode({
    aws = {
      region = var.region
    }
    serviceAccount = {
      name = local.ack_s3_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.ack_s3_irsa.iam_role_arn
      }
    }
  })]
}

resource "helm_release" "ack_cloudfront" {
  name             = "ack-cloudfront-controller"
  namespace        = local.ack_namespace
  create_namespace = true
  repository       = "oci://public.ecr.aws/aws-controllers-k8s"
  chart            = "cloudfront-chart"
  version          = "1.7.1"

  values = [yamlencode({
    aws = {
      # CloudFront is global; its API is served from us-east-1.
      region = "us-east-1"
    }
    serviceAccount = {
      name = local.ack_cloudfront_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.ack_cloudfront_irsa.iam_role_arn
      }
    }
  })]
}

resource "helm_release" "ack_acm" {
  name             = "ack-acm-controller"
  namespace        = local.ack_namespace
  create_namespace = true
  repository       = "oci://public.ecr.aws/aws-controllers-k8s"
  chart            = "acm-chart"
  version          = "1.3.4"

  values = [yamlencode({
    aws = {
      # The operator annotates each Certificate with us-east-1 as well.
      region = "us-east-1"
    }
    serviceAccount = {
      name = local.ack_acm_sa
      annotations = {
        "eks.amazonaws.com/role-arn" = module.ack_acm_irsa.iam_role_arn
      }
    }
  })]
}

output "shop_images_role_arn" {
  description = "IAM role of the shops' images (IRSA); the operator's --images-role-arn."
  value       = module.shop_images_irsa.iam_role_arn
}
