# The security groups the operator puts on every Aurora cluster and ElastiCache Serverless
# cache it provisions (--db-security-group-ids, --cache-security-group-ids): PostgreSQL
# and Redis reachable from the cluster's nodes, and from nowhere else. Pods share their
# node's security groups, so this covers the shops and their migration Jobs; the
# operator's NetworkPolicies narrow it down to each shop's own pods inside the cluster.

locals {
  # The module's node security group, and the EKS-created cluster security group that
  # managed node groups also carry.
  node_security_groups = {
    nodes   = module.eks.node_security_group_id
    cluster = module.eks.cluster_primary_security_group_id
  }
}

resource "aws_security_group" "database" {
  name        = "${var.cluster_name}-storefront-database"
  description = "Aurora PostgreSQL of Storefront shops: 5432 from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  tags = {
    Name = "${var.cluster_name}-storefront-database"
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_nodes" {
  for_each = local.node_security_groups

  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the EKS ${each.key} security group"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_security_group" "cache" {
  name        = "${var.cluster_name}-storefront-cache"
  description = "ElastiCache Serverless of Storefront shops: 6379 from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  tags = {
    Name = "${var.cluster_name}-storefront-cache"
  }
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_nodes" {
  for_each = local.node_security_groups

  security_group_id            = aws_security_group.cache.id
  description                  = "Redis (TLS) from the EKS ${each.key} security group"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = each.value
}
