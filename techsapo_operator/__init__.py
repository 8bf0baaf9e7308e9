"""techsapo-operator: runs TechSapo read-only in dev, staging and production on Kubernetes."""
