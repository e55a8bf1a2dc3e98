output "region" {
  description = "AWS region of everything created."
  value       = var.region
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Endpoint of the cluster's Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = module.vpc.vpc_cidr_block
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets, where the internet-facing ALBs connect from: the operator's ingressCidrs."
  value       = module.vpc.public_subnets_cidr_blocks
}

output "db_subnet_cidrs" {
  description = "CIDRs of the database subnets: the operator's dbCidrs, the only egress the shops get on the Aurora port."
  value       = module.vpc.database_subnets_cidr_blocks
}

output "cache_subnet_cidrs" {
  description = "CIDRs of the cache subnets: the operator's cacheCidrs, the only egress the shops get on the ElastiCache port."
  value       = module.vpc.elasticache_subnets_cidr_blocks
}

output "operator_repository_url" {
  description = "ECR repository for the operator image: make docker-push IMG=<this>:<tag>."
  value       = aws_ecr_repository.images["operator"].repository_url
}

output "shop_repository_url" {
  description = "ECR repository for the shop image: make docker-push SHOP_IMG=<this>:<tag>, then spec.image of every Storefront."
  value       = aws_ecr_repository.images["shop"].repository_url
}

output "ecr_login_command" {
  description = "Logs Docker in to this account's ECR registry, for make docker-push: a pipeline, so run it with eval \"$(terraform output -raw ecr_login_command)\"."
  value       = "aws ecr get-login-password --region ${var.region} | docker login --username AWS --password-stdin ${split("/", aws_ecr_repository.images["operator"].repository_url)[0]}"
}

output "db_subnet_ids" {
  description = "Subnets for Aurora: the operator's dbSubnetIds."
  value       = module.vpc.database_subnets
}

output "db_security_group_id" {
  description = "Security group allowing 5432 from the nodes: the operator's dbSecurityGroupIds."
  value       = aws_security_group.database.id
}

output "cache_subnet_ids" {
  description = "Subnets for ElastiCache Serverless: the operator's cacheSubnetIds."
  value       = module.vpc.elasticache_subnets
}

output "cache_security_group_id" {
  description = "Security group allowing 6379 from the nodes: the operator's cacheSecurityGroupIds."
  value       = aws_security_group.cache.id
}

output "ack_rds_role_arn" {
  description = "IAM role of the ACK rds-controller (IRSA)."
  value       = module.ack_rds_irsa.iam_role_arn
}

output "ack_elasticache_role_arn" {
  description = "IAM role of the ACK elasticache-controller (IRSA)."
  value       = module.ack_elasticache_irsa.iam_role_arn
}

output "aws_load_balancer_controller_role_arn" {
  description = "IAM role of the AWS Load Balancer Controller (IRSA)."
  value       = module.lbc_irsa.iam_role_arn
}

output "operator_values" {
  description = "The storefront-operator chart values Terraform installed with, as YAML (helm upgrade -f)."
  value       = yamlencode(local.operator_values)
}
