# The image repositories: nothing is published for this project, so the images the
# cluster pulls are built from this checkout and pushed here first (README.md, Apply):
#   make docker-build docker-push IMG=<operator_repository_url>:<tag> SHOP_IMG=<shop_repository_url>:<tag>
# The managed node group's role carries AmazonEC2ContainerRegistryReadOnly
# (terraform-aws-modules/eks, modules/eks-managed-node-group), so the nodes can pull.

locals {
  images = {
    operator = "storefront-operator"
    shop     = "shop"
  }
  operator_repository = coalesce(var.operator_image.repository, aws_ecr_repository.images["operator"].repository_url)
}

resource "aws_ecr_repository" "images" {
  for_each = local.images

  name = "${var.cluster_name}/${each.value}"
  # A tag names one image forever: a pod restarted next month runs what was reviewed.
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

# The operator image must exist before the chart installs a Deployment that pulls it:
# with the repository created here, a missing tag fails the plan with ECR's
# ImageNotFoundException instead of a Helm release that times out in ImagePullBackOff.
# The digest then pins the Deployment to exactly that image.
data "aws_ecr_image" "operator" {
  count = var.operator_image.repository == "" ? 1 : 0

  repository_name = aws_ecr_repository.images["operator"].name
  image_tag       = var.operator_image.tag
}
