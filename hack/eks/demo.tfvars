# A small demo cluster: terraform apply -var-file=demo.tfvars (see README.md for the order).
region             = "eu-west-1"
cluster_name       = "storefront-demo"
kubernetes_version = "1.35"
vpc_cidr           = "10.42.0.0/16"

node_group = {
  instance_types = ["t3.large"]
  min_size       = 2
  max_size       = 4
  desired_size   = 2
}

operator_replicas = 1
watch_namespaces  = []

tags = {
  project     = "storefront"
  environment = "demo"
}
