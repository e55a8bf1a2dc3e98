# Product images and the CDN (docs/architecture.md#images-and-the-cdn): one role per shop
# for its images bucket, and the ACK controllers that create the buckets, the ACM
# certificates and the CloudFront distributions, each with a least-privilege policy.
#
# The operator names every images bucket sf-<namespace>-<name>-<hash>-<uid hash>
# (controllers/storefront_images.go imagesBucketName), so the controllers' statements are
# scoped to buckets whose names start with sf-.

locals {
  ack_s3_sa         = "ack-s3-controller"
  ack_cloudfront_sa = "ack-cloudfront-controller"
  ack_acm_sa        = "ack-acm-controller"
  images_buckets    = "${local.arn_prefix}:s3:::sf-*"

  # Each shop of var.images_shops gets its own role, reaching only its own bucket. The
  # bucket's name is the Storefront's AWS identifier (controllers/names.go awsIdentifier:
  # sf-<namespace>-<name> lower-cased, every run of other characters than letters and
  # digits one hyphen, cut to 40 characters, then "-" and 8 hex of
  # sha256(<namespace>/<name>)), "-" and 8 hex of the Storefront's UID, which Terraform
  # cannot know: "????????" matches exactly those 8 characters, so no other shop's bucket
  # (whose identifier ends with another hash) matches.
  images_shops = {
    for s in var.images_shops : "${s.namespace}/${s.name}" => {
      namespace       = s.namespace
      service_account = "${s.name}-shop"
      bucket = format("%s-%s-????????",
        trimsuffix(substr(replace(lower("sf-${s.namespace}-${s.name}"), "/[^a-z0-9]+/", "-"), 0, 40), "-"),
        substr(sha256("${s.namespace}/${s.name}"), 0, 8),
      )
    }
  }
}

# EKS Pod Identity: an association per shop names its ServiceAccount (<name>-shop) and its
# role; the operator's imagesRoleArn stays empty (helm.tf), so it annotates no
# ServiceAccount and lets the shop's pods reach the Pod Identity agent. The role trusts
# only this cluster's Pod Identity, and only with the session tags of that one
# ServiceAccount: no ServiceAccount of another namespace or name assumes it, whoever
# creates it.
data "aws_iam_policy_document" "shop_images_trust" {
  for_each = local.images_shops

  statement {
    sid     = "PodIdentity"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.eks.cluster_arn]
    }
  }

  statement {
    # Pod Identity tags every session with the pod's namespace and ServiceAccount.
    sid     = "PodIdentitySessionTags"
    actions = ["sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.eks.cluster_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [each.value.namespace]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [each.value.service_account]
    }
  }
}

# The shop reads and writes its images, under images/, and nothing else: no bucket
# configuration, no other prefix, no other shop's bucket.
data "aws_iam_policy_document" "shop_images" {
  for_each = local.images_shops

  statement {
    sid       = "ReadWriteImages"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.arn_prefix}:s3:::${each.value.bucket}/images/*"]
  }

  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = ["${local.arn_prefix}:s3:::${each.value.bucket}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["images/*"]
    }
  }
}

resource "aws_iam_role" "shop_images" {
  for_each = local.images_shops

  # IAM role names are at most 64 characters: the cluster name (32 at most), -shop- and
  # the bucket's name hash, unique per Storefront.
  name               = "${var.cluster_name}-shop-${substr(sha256(each.key), 0, 16)}"
  description        = "Storefront shop ${each.key}: its product images (${each.value.bucket})"
  assume_role_policy = data.aws_iam_policy_document.shop_images_trust[each.key].json
}

resource "aws_iam_role_policy" "shop_images" {
  for_each = local.images_shops

  name   = "images"
  role   = aws_iam_role.shop_images[each.key].id
  policy = data.aws_iam_policy_document.shop_images[each.key].json
}

resource "aws_eks_pod_identity_association" "shop_images" {
  for_each = local.images_shops

  cluster_name    = module.eks.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.shop_images[each.key].arn
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
      # s3-controller 1.10.0 reads every bucket's ABAC status, and creates the bucket with
      # its tags (spec.tagging), which S3 authorises as s3:TagResource.
      "s3:GetBucketABAC",
      "s3:TagResource",
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

output "shop_images_role_arns" {
  description = "IAM role of each shop of images_shops (<namespace>/<name>), associated with its <name>-shop ServiceAccount through EKS Pod Identity."
  value       = { for k, r in aws_iam_role.shop_images : k => r.arn }
}
