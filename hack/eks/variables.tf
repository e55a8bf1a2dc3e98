variable "region" {
  description = "AWS region of the cluster, the VPC and every database and cache the operator provisions (the operator's --aws-region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster; also prefixes the VPC, the IAM roles and the security groups."
  type        = string
  default     = "storefront"

  validation {
    # IAM role names built from it (<name>-ack-elasticache-controller) must stay within 64 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-32 lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS control plane and node group, e.g. 1.35."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.35."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC, /16 to /18. It is split over 3 availability zones into private (nodes, pods), public (load balancers, NAT), database and cache subnets; the shops' NetworkPolicies admit the public subnets (where the ALB connects from) and reach only the database and cache subnets."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 18, false)
    error_message = "vpc_cidr must be an IPv4 CIDR from /16 to /18, such as 10.0.0.0/16."
  }
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the cluster's public API endpoint (your office or CI egress addresses)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.cluster_endpoint_public_access_cidrs) > 0 && alltrue([for c in var.cluster_endpoint_public_access_cidrs : can(cidrnetmask(c))])
    error_message = "cluster_endpoint_public_access_cidrs must be a non-empty list of IPv4 CIDRs."
  }
}

variable "node_group" {
  description = "The managed node group: EC2 instance types and the size bounds of its autoscaling group."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
  })
  default = {
    instance_types = ["m6i.large"]
    min_size       = 2
    max_size       = 6
    desired_size   = 3
  }

  validation {
    condition     = length(var.node_group.instance_types) > 0 && alltrue([for t in var.node_group.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "node_group.instance_types must list EC2 instance types such as m6i.large."
  }

  validation {
    condition     = var.node_group.min_size >= 1 && var.node_group.min_size <= var.node_group.desired_size && var.node_group.desired_size <= var.node_group.max_size && var.node_group.max_size <= 100
    error_message = "node_group sizes must satisfy 1 <= min_size <= desired_size <= max_size <= 100."
  }
}

variable "operator_image" {
  description = "The Storefront operator image: tag is the one `make docker-build docker-push IMG=<repository>:<tag>` pushed (no image is published, so there is no default); repository defaults to the ECR repository this configuration creates (output operator_repository_url), where the apply checks that the tag exists before installing the chart."
  type = object({
    repository = optional(string, "")
    tag        = string
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.operator_image.tag))
    error_message = "operator_image.tag must be the image tag you pushed (make docker-push IMG=<repository>:<tag>), such as 0.2.0."
  }

  validation {
    condition     = can(regex("^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9._/-]+$", var.operator_image.repository)) || var.operator_image.repository == ""
    error_message = "operator_image.repository must be an image repository such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/storefront/storefront-operator, or empty for the ECR repository created here."
  }
}

variable "operator_replicas" {
  description = "Replicas of the operator; with more than one, the chart turns leader election on."
  type        = number
  default     = 2

  validation {
    condition     = var.operator_replicas >= 1 && var.operator_replicas <= 5 && floor(var.operator_replicas) == var.operator_replicas
    error_message = "operator_replicas must be a whole number from 1 to 5."
  }
}

variable "watch_namespaces" {
  description = "Namespaces whose Storefronts the operator reconciles (--watch-namespaces); empty: all."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.watch_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", n))])
    error_message = "watch_namespaces must be Kubernetes namespace names."
  }
}

variable "images_shops" {
  description = "Storefronts (namespace and name) with spec.images.bucket: each gets an IAM role reaching only its own images bucket, associated with its <name>-shop ServiceAccount through EKS Pod Identity. A shop not listed has no credentials for its bucket."
  type = list(object({
    namespace = string
    name      = string
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.images_shops : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", s.namespace)) && can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", s.name))])
    error_message = "images_shops must list Kubernetes namespace names and Storefront names."
  }

  validation {
    condition     = length(distinct([for s in var.images_shops : "${s.namespace}/${s.name}"])) == length(var.images_shops)
    error_message = "images_shops lists a Storefront twice."
  }
}

variable "metrics_namespace" {
  description = "Namespace of the Prometheus that may scrape the shops' metrics port (--metrics-namespace); empty: none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$", var.metrics_namespace))
    error_message = "metrics_namespace must be a Kubernetes namespace name or empty."
  }
}

variable "tags" {
  description = "Tags added to every AWS resource Terraform creates (the ACK controllers tag what they create themselves)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be at most 128 characters and not start with aws:, values at most 256."
  }
}
