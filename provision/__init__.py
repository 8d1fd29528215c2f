"""mailsh provisioning library: config, templates, image, container, DNS, ACME, checks."""
